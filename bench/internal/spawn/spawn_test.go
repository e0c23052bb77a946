package spawn

import (
	"os"
	"os/exec"
	"testing"
)

const launcherArg = "__spawn-launcher"

// TestMain lets the test binary serve as the launcher.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == launcherArg {
		os.Exit(Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// The launcher reports the measured process's exit code and a plausible
// wall time and peak RSS; a failing process is an error with its code.
func TestLauncher(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true(1)")
	}
	rep, err := Run(exec.Command(self, launcherArg, tr))
	if err != nil || rep.Exit != 0 || rep.MaxRSS <= 0 || rep.Wall <= 0 {
		t.Fatalf("true: %+v, %v", rep, err)
	}
	fl, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false(1)")
	}
	rep, err = Run(exec.Command(self, launcherArg, fl))
	if err == nil || rep.Exit != 1 {
		t.Fatalf("false: %+v, %v", rep, err)
	}
}
