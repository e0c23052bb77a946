//go:build unix && !linux

package db

import "syscall"

// sysProcAttr runs the child as u (when non-nil); the postmaster
// (server=true) gets its own process group. There is no parent-death
// signal outside Linux; StartSandbox sweeps leftovers instead.
func sysProcAttr(u *serverUser, server bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}
	}
	if server {
		a.Setpgid = true
	}
	return a
}
