package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/handrail-dev/handrail/bench/checkset"
)

// checks200Runbook writes the runbook of bench/compare's checks-200 and
// check-cmd workloads (bench/checkset's 200 check steps) and returns its
// directory.
func checks200Runbook(b *testing.B) string {
	b.Helper()
	var rb strings.Builder
	rb.WriteString(`[runbook]
id = "bench-checks-200"
title = "Bench: 200 small checks"
version = "1"

[target]
name = "Connect-Staging"
project_id = "mohctrsopquwoyfweadl"
forbidden = ["rxlqtyfhsocxnsnnnlwl"]
production = true
identity = ["stamp"]

[settings]
lock_timeout = "5s"
statement_timeout = "10m"
`)
	rb.WriteString(checkset.Steps(200))
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RunbookFile), []byte(rb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkLoadChecks200 is the load of `handrail check`'s 200-check
// runbook (bench/compare check-cmd): in a fresh process every byte
// allocated is a page faulted in, so B/op matters as much as ns/op.
func BenchmarkLoadChecks200(b *testing.B) {
	dir := checks200Runbook(b)
	b.ReportAllocs()
	for b.Loop() {
		if rb, ps := Load(dir); ps.HasErrors() || len(rb.AllSteps()) != 200 {
			b.Fatal(ps.Error())
		}
	}
}
