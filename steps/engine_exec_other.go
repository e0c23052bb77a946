//go:build !unix

package steps

import "os/exec"

// setProcessGroup: without process groups, cancelling kills the shell only.
func setProcessGroup(cmd *exec.Cmd) {}
