//go:build !unix

package db

import "syscall"

// The sandbox is built for Unix-like systems; elsewhere it starts the
// server as the current user, without process-group or parent-death
// handling.

func sysProcAttr(u *serverUser, server bool) *syscall.SysProcAttr { return nil }

func traversableBy(dir string, u *serverUser) bool { return true }

func processAlive(pid int) bool { return true } // never sweep
