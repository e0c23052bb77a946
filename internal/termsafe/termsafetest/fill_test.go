package termsafetest

import (
	"testing"
	"time"
)

type inner struct{ A, b string }

type sample struct {
	S    string
	P    *inner
	L    []string
	M    map[string]string
	R    [][]string
	T    time.Time
	N    int
	Kind kind
}

type kind string

func TestFillReachesEveryExportedString(t *testing.T) {
	var v sample
	Fill(&v, Cycle("x"))
	var paths []string
	Strings(v, func(path, s string) {
		if s != "x" {
			t.Errorf("%s = %q", path, s)
		}
		paths = append(paths, path)
	})
	// S, P.A, L[], M{key}, M{}, R[][], Kind; not the unexported b.
	if len(paths) != 7 || v.P.b != "" {
		t.Fatalf("visited %v", paths)
	}
}
