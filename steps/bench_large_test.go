package steps

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// largeMigration is a migration of n statements shaped like the 53 MB
// file of issue 15 (a create table with tabs, then inserts into it).
func largeMigration(n int) string {
	var b strings.Builder
	b.WriteString("create schema if not exists bench;\n")
	b.WriteString("create table bench.items (\n\tid int primary key,\n\tname text not null,\n\tqty int not null default 0,\n\tnote text\n);\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "insert into bench.items (id) values (%d);\n", i)
	}
	return b.String()
}

// BenchmarkLoadWouldRunLargeFile: what a session does with a large
// migration file up to its sql step's prompt, but the weighing on the
// target and the journal (BenchmarkListingLine there): load the runbook,
// analyse the step's locks, keep what the locks_weighed event keeps, list
// the statements for step_would_run. B/op is what it allocates; live-MB
// what stays live at the prompt (the runbook and the list), after a GC.
func BenchmarkLoadWouldRunLargeFile(b *testing.B) {
	for _, n := range []int{20_000, 200_000} {
		b.Run(fmt.Sprintf("statements=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			src := largeMigration(n)
			if err := os.MkdirAll(filepath.Join(dir, "migrations"), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "migrations", "0001_bench.sql"), []byte(src), 0o644); err != nil {
				b.Fatal(err)
			}
			body := testRunbookHead + "\n[[phase]]\ntitle = \"Main\"\n\n  [[phase.step]]\n  kind = \"sql\"\n  id = \"migrate\"\n  file = \"migrations/0001_bench.sql\"\n"
			if err := os.WriteFile(filepath.Join(dir, RunbookFile), []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
			var base runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&base)
			b.ReportAllocs()
			b.ResetTimer()
			var live float64
			for range b.N {
				rb, problems := Load(dir)
				if rb == nil || len(problems.Errors()) > 0 {
					b.Fatal(problems)
				}
				s := rb.AllSteps()[0]
				an, err := rb.StepLocks(s)
				if err != nil {
					b.Fatal(err)
				}
				kept := journaled(an)
				infos, err := rb.stepList(s) // what the engine lists
				if err != nil {
					b.Fatal(err)
				}
				if infos.Len() != n+2 || kept == nil {
					b.Fatalf("%d statements", infos.Len())
				}
				b.StopTimer()
				var m runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m)
				live = float64(m.HeapAlloc-base.HeapAlloc) / 1e6
				runtime.KeepAlive(rb)
				runtime.KeepAlive(infos)
				b.StartTimer()
			}
			b.ReportMetric(live, "live-MB")
			b.ReportMetric(float64(len(src))/1e6, "file-MB")
		})
	}
}
