//go:build unix

package journal

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive advisory lock on f without waiting, so two
// handrail processes never append to one journal. The lock goes with the
// file descriptor (and with the process, if it dies). A watcher's probe
// (probeWriter) holds a shared lock for an instant: that is retried for a
// moment; a writer holds its lock for the whole session.
func lockFile(f *os.File) error {
	deadline := time.Now().Add(lockPatience)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case errors.Is(err, syscall.EWOULDBLOCK) && time.Now().Before(deadline):
			time.Sleep(lockPatience / 20)
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return fmt.Errorf("%s is being written by another handrail process (is the session still running, or being resumed elsewhere?)", f.Name())
		case errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EINVAL):
			return nil // a file system without flock: go on unlocked
		}
		return err
	}
}

// lockPatience is how long lockFile retries a lock held by someone else.
const lockPatience = 200 * time.Millisecond

// probeWriter tells whether a handrail process holds the journal open for
// writing: the writer's exclusive lock makes a shared one impossible. The
// probe takes the shared lock and drops it at once when it gets it. It
// needs only read access to the file.
func probeWriter(f *os.File) WriterState {
	fd := int(f.Fd())
	err := syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB)
	switch {
	case err == nil:
		_ = syscall.Flock(fd, syscall.LOCK_UN)
		return WriterGone
	case errors.Is(err, syscall.EWOULDBLOCK):
		return WriterAlive
	}
	return WriterUnknown // no flock here (the writer went on unlocked too)
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
