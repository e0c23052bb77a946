package db

import (
	"context"
	"errors"
	"time"
)

// TB is what NewTestSandbox needs of a test (testing.TB has it); an
// interface of its own keeps the testing package out of the binary.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
}

// NewTestSandbox starts a sandbox for a test and stops it (removing all its
// files) in t.Cleanup. Missing PostgreSQL server binaries fail the test with
// the install instructions: the safety tests must not silently skip.
func NewTestSandbox(t TB, opts SandboxOptions) *Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := StartSandbox(ctx, opts)
	if err != nil {
		if errors.Is(err, ErrServerBinariesMissing) {
			t.Fatalf("these tests need a local PostgreSQL server installation: %v", err)
		}
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop sandbox: %v", err)
		}
	})
	return s
}
