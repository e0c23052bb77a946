// Command launcher runs one measured process for bench/compare and reports
// its wall time, CPU time and peak RSS on fd 3 (see package spawn). It is
// a separate, small program so that its own memory does not count in the
// measured process's peak RSS.
package main

import (
	"os"

	"github.com/handrail-dev/handrail/bench/internal/spawn"
)

func main() { os.Exit(spawn.Main(os.Args[1:])) }
