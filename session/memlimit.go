package session

import (
	"os"
	"runtime/debug"

	"github.com/handrail-dev/handrail/steps"
)

// A step of a large migration file (53 MB, 1.16M statements) holds, while
// it is analysed, weighed and listed, a few times the file; the garbage
// collector's default goal (GOGC=100) lets the heap grow to twice what is
// live before it collects, so the process's peak was twice what the step
// needs (issue 15). A session whose runbook's files are that large gets a
// soft memory limit (runtime/debug.SetMemoryLimit) of memLimitPerByte
// times them, above what such a step holds live: the collector works
// sooner, and only for such a runbook. Below memLimitFloor (files under
// 32 MB) there is no limit, so an ordinary runbook (a 20,000-statement
// migration peaks under 100 MB) collects as it always did. A GOMEMLIMIT
// the user set wins.
const (
	memLimitFloor   = 256 << 20
	memLimitPerByte = 8
)

// memoryLimit is the soft memory limit for a runbook whose files total
// files bytes; 0 for none.
func memoryLimit(files int64) int64 {
	if l := files * memLimitPerByte; l >= memLimitFloor {
		return l
	}
	return 0
}

// setMemoryLimit sets the session's soft memory limit for rb (see above).
func setMemoryLimit(rb *steps.Runbook) {
	if os.Getenv("GOMEMLIMIT") != "" || rb == nil {
		return
	}
	if l := memoryLimit(rb.FileBytes()); l > 0 {
		debug.SetMemoryLimit(l)
	}
}
