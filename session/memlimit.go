package session

import (
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/lockcheck"
)

// A step of a large migration file (53 MB, 1.16M statements) holds, while
// it is analysed, weighed and listed, a few times the file; the garbage
// collector's default goal (GOGC=100) lets the heap grow to twice what is
// live before it collects, so the process's peak was twice what the step
// needs (issue 15). A session whose runbook's files are that large gets a
// soft memory limit (runtime/debug.SetMemoryLimit) a quarter above what
// such a step holds live (stepLive), plus memLimitBase for the rest of the
// process, and a lower GC goal (largeGCPercent): the collector works
// sooner, and only for such a runbook. Below
// memLimitFloor there is no limit, so an ordinary runbook (a
// 20,000-statement migration peaks under 100 MB; its limit would be 36
// MiB) collects as it always did. A GOMEMLIMIT or GOGC the user set
// wins; both are put back when the session ends.
const (
	memLimitFloor = 128 << 20
	memLimitBase  = 32 << 20 // the screen, the connections, stacks
)

// stepLive estimates the most a session holds live for a runbook of files
// of bytes bytes split into statements statements: the files, their
// statement lists (views into the files, shared by the events), and a
// step's lock analysis while it is analysed and weighed: 16 bytes a
// statement (a StatementLocks: its line and a reference to a prediction
// equal neighbours share; the shared records are few). The
// step_would_run line that lists the step is written in pieces (journal:
// streamed above 1 MiB), not held whole. For the 53 MB file: 82 MiB
// estimated, 94 MiB measured (the largest live heap after the runbook is
// loaded, from GODEBUG=gctrace=1), so a limit of 134 MiB.
func stepLive(bytes int64, statements int) int64 {
	n := int64(statements)
	analysis := n * int64(unsafe.Sizeof(lockcheck.StatementLocks{}))
	return bytes + steps.ListBytes(statements) + analysis
}

// memoryLimit is the soft memory limit for a runbook of files of bytes
// bytes split into statements statements; 0 for none.
func memoryLimit(bytes int64, statements int) int64 {
	if l := stepLive(bytes, statements)*5/4 + memLimitBase; l >= memLimitFloor {
		return l
	}
	return 0
}

// largeGCPercent is the collector's goal for a runbook that gets a limit:
// the heap grows a quarter above what is live before it collects, not
// twice (GOGC=100). The limit alone kept the 53 MB file's session at its
// estimate while the step was analysed, but let the heap grow to it
// again while the statements ran (what is live then is less than what
// the analysis held): VmHWM 145 MB at the prompt, 153 MB after the run;
// with this goal too, 140-146 MB for both (bench/RESULTS.md). The run
// took no longer (15-19 s against 16 s).
const largeGCPercent = 25

// tuneGC sets the collector for a session whose runbook's files hold
// bytes bytes in statements statements (see above): a GOMEMLIMIT or GOGC
// the user set wins. It returns what puts the process's settings back
// as they were (session.Run returns; a test or a program embedding the
// session must not inherit them).
func tuneGC(bytes int64, statements int) (restore func()) {
	l := memoryLimit(bytes, statements)
	if l == 0 {
		return func() {}
	}
	var undo []func()
	if os.Getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(l)
		undo = append(undo, func() { debug.SetMemoryLimit(prev) })
	}
	if os.Getenv("GOGC") == "" {
		prev := debug.SetGCPercent(largeGCPercent)
		undo = append(undo, func() { debug.SetGCPercent(prev) })
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// tuneGCFor is tuneGC for the files of rb (none for a nil runbook).
func tuneGCFor(rb *steps.Runbook) (restore func()) {
	if rb == nil {
		return func() {}
	}
	return tuneGC(rb.FileSizes())
}
