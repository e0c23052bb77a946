package session

import "testing"

// TestMemoryLimit: a runbook of ordinary files gets no limit (the 20k
// migration's GC is untouched); one of a 53 MB file gets 8 times it.
func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct{ files, want int64 }{
		{0, 0},
		{1_500_000, 0},          // the 20,000-statement migration
		{32<<20 - 1, 0},         // just under the floor
		{32 << 20, 256 << 20},   // the floor
		{53_409_043, 427272344}, // the 1.16M-statement file
	} {
		if got := memoryLimit(c.files); got != c.want {
			t.Errorf("memoryLimit(%d) = %d, want %d", c.files, got, c.want)
		}
	}
}
