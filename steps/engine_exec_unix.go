//go:build unix

package steps

import (
	"os/exec"
	"syscall"
)

// setProcessGroup runs cmd in its own process group, and makes cancelling
// its context kill the whole group (sh and everything it started).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
