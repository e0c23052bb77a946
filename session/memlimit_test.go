package session

import (
	"runtime/debug"
	"testing"
)

// TestMemoryLimit: a runbook of ordinary files gets no limit (the 20k
// migration's GC is untouched); the 53 MB file of 1.16M statements gets
// a fifth to a half more than what its step holds live at most; a file of as many
// bytes but four times the statements gets more, not a limit below
// what it holds (the collector would run without end).
func TestMemoryLimit(t *testing.T) {
	if got := memoryLimit(1_500_000, 20_001); got != 0 {
		t.Errorf("the 20k migration: limit %d, want none", got)
	}
	if got := memoryLimit(0, 0); got != 0 {
		t.Errorf("no files: limit %d, want none", got)
	}
	m50 := memoryLimit(53_409_043, 1_160_002)
	if live := int64(94 << 20); m50 < live*6/5 || m50 > live*3/2 {
		t.Errorf("the 53 MB file: limit %d MiB, want a fifth to a half above its 94 MiB live", m50>>20)
	}
	if tiny, live := memoryLimit(53_409_043, 4*1_160_002), stepLive(53_409_043, 4*1_160_002); tiny <= m50 || tiny < live*6/5 {
		t.Errorf("4x the statements: limit %d MiB, not above the 53 MB file's %d MiB and a fifth above its %d MiB live", tiny>>20, m50>>20, live>>20)
	}
}

// tuneGC sets the limit and the GC goal for a large runbook only, leaves
// what the user set in GOMEMLIMIT or GOGC alone, and puts both back.
func TestTuneGCRestores(t *testing.T) {
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	percent := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	l0, p0 := limit(), percent()

	restore := tuneGC(1_500_000, 20_001)
	if limit() != l0 || percent() != p0 {
		t.Errorf("the 20k migration: limit %d, GC %d%%; want %d, %d%% as they were", limit(), percent(), l0, p0)
	}
	restore()

	restore = tuneGC(53_409_043, 1_160_002)
	if got, want := limit(), memoryLimit(53_409_043, 1_160_002); got != want || percent() != largeGCPercent {
		t.Errorf("the 53 MB file: limit %d, GC %d%%; want %d, %d%%", got, percent(), want, largeGCPercent)
	}
	restore()
	if limit() != l0 || percent() != p0 {
		t.Errorf("after the session: limit %d, GC %d%%; want %d, %d%% back", limit(), percent(), l0, p0)
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	t.Setenv("GOGC", "200")
	restore = tuneGC(53_409_043, 1_160_002)
	if limit() != l0 || percent() != p0 {
		t.Errorf("with GOMEMLIMIT and GOGC set: limit %d, GC %d%%; want the process's %d, %d%%", limit(), percent(), l0, p0)
	}
	restore()
}
