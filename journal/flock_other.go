//go:build !unix

package journal

import "os"

func lockFile(*os.File) error { return nil }

// probeWriter cannot tell here: the writer takes no lock.
func probeWriter(*os.File) WriterState { return WriterUnknown }

// fileState is the size of f; the link count is not known here (1).
func fileState(f *os.File, _ uintptr) (size int64, links uint64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), 1, nil
}
