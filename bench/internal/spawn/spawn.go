// Package spawn runs a measured process through a launcher and reports
// its wall time, CPU time and peak RSS.
//
// Why a launcher: Go starts children with clone(CLONE_VM|CLONE_VFORK), so
// until execve the child runs on the parent's memory map, and Linux
// records that map's high-water RSS into the child's ru_maxrss at execve.
// A child of a big process (the compare program holds the workloads in
// memory) reports at least that process's peak RSS. The launcher is a
// small fresh process, so the measured process's ru_maxrss is its own, or
// the launcher's own peak (the floor; Floor measures it) if that is
// larger. This package imports only what the launcher needs, to keep the
// floor low.
package spawn

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Report is what the launcher measured of one process.
type Report struct {
	Wall   time.Duration
	CPU    time.Duration // user + system
	MaxRSS int64         // bytes
	Exit   int
}

// Main is the launcher: it runs args[0] with args[1:], stdio inherited,
// waits, writes the report to fd 3 as one line "wall_ns cpu_ns maxrss_kb
// exit", and returns the process's exit code.
func Main(args []string) int {
	out := os.NewFile(3, "report")
	if out == nil || len(args) == 0 {
		fmt.Fprintln(os.Stderr, "spawn: need a command, and fd 3 for the report")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	ps := cmd.ProcessState
	if ps == nil {
		fmt.Fprintf(os.Stderr, "spawn: %v\n", err)
		return 2
	}
	var rss int64
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss) // kilobytes on Linux
	}
	fmt.Fprintf(out, "%d %d %d %d\n", int64(wall), int64(ps.UserTime()+ps.SystemTime()), rss, ps.ExitCode())
	if ps.ExitCode() < 0 {
		return 1
	}
	return ps.ExitCode()
}

// Run runs cmd, whose program is a launcher (Main) given the measured
// command as its arguments, and returns the launcher's report. The error
// is cmd's (a non-zero exit of the measured process included).
func Run(cmd *exec.Cmd) (Report, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return Report{}, err
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return Report{}, err
	}
	pw.Close()
	b, rerr := io.ReadAll(pr)
	err = cmd.Wait()
	var wall, cpu, rss int64
	var exit int
	if _, serr := fmt.Sscanf(string(b), "%d %d %d %d\n", &wall, &cpu, &rss, &exit); serr != nil {
		return Report{}, errors.Join(fmt.Errorf("spawn: no report (%v)", serr), rerr, err)
	}
	return Report{Wall: time.Duration(wall), CPU: time.Duration(cpu), MaxRSS: rss * 1024, Exit: exit}, err
}
