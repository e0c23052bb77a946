package steps

import (
	"strconv"
	"testing"
)

// idxSeg's precomputed segments are the ones it would otherwise build.
func TestIdxSegTable(t *testing.T) {
	for i := range len(idxSegs) + 2 {
		if got, want := idxSeg(i), idxMark+strconv.Itoa(i); got != want {
			t.Fatalf("idxSeg(%d) = %q, want %q", i, got, want)
		}
	}
}
