package db

import "syscall"

// sysProcAttr runs the child as u (when non-nil). For the postmaster
// (server=true) it also puts the child in its own process group and asks
// the kernel to send it SIGINT (fast shutdown) if we die, so a killed test
// binary does not leave a server running. Go sets the parent-death signal
// after switching credentials, which would otherwise clear it.
func sysProcAttr(u *serverUser, server bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}
	}
	if server {
		a.Setpgid = true
		a.Pdeathsig = syscall.SIGINT
	}
	return a
}
