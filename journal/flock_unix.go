//go:build unix

package journal

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f without waiting, so two
// handrail processes never append to one journal. The lock goes with the
// file descriptor (and with the process, if it dies).
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%s is being written by another handrail process (is the session still running, or being resumed elsewhere?)", f.Name())
	}
	if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EINVAL) {
		return nil // a file system without flock: go on unlocked
	}
	return err
}

// fileState is the size and link count of f, whose descriptor is fd (an
// fstat of the descriptor itself: f.Stat costs twice as much, and this
// runs before every line). The caller keeps f open meanwhile.
func fileState(_ *os.File, fd uintptr) (size int64, links uint64, err error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(fd), &st); err != nil {
		return 0, 0, err
	}
	return st.Size, uint64(st.Nlink), nil
}
