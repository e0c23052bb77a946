package journal

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/steps"
)

// synth makes a plausible session of n events: a 20-step plan, then SQL
// steps with statements, row batches and notices, then session_ended.
type synth struct {
	seq  int64
	t0   time.Time
	step int
	i    int // position in the step's cycle
}

const synthSteps = 20

func (s *synth) next(n int64) steps.Event {
	s.seq++
	e := steps.Event{Seq: s.seq, Time: s.t0.Add(time.Duration(s.seq) * time.Millisecond), Mono: time.Duration(s.seq) * time.Millisecond}
	if s.seq == 1 {
		plan := make([]steps.PlannedStep, synthSteps)
		for i := range plan {
			plan[i] = steps.PlannedStep{ID: fmt.Sprintf("step-%02d", i), Title: fmt.Sprintf("Step %d", i), Kind: steps.KindSQL, Phase: "Execution", Writes: true, Statements: 1}
		}
		e.Type = steps.EvSessionStarted
		e.Session = &steps.SessionInfo{SessionID: "bench", RunbookID: "bench", RunbookHash: "00", TargetName: "t", ProjectID: "p", Apply: true, KeepRows: 500, Plan: plan}
		return e
	}
	if s.seq == n {
		e.Type, e.Outcome = steps.EvSessionEnded, steps.OutcomeSucceeded
		return e
	}
	// A step: started, intent, statement, 12 row batches, a notice,
	// statement finished, succeeded (18 events, 3 of them fsynced).
	e.Step = fmt.Sprintf("step-%02d", s.step%synthSteps)
	st := &steps.StatementInfo{Index: 0, Count: 1, SQL: "update accounts set flag = true where id < 1000", File: "m.sql", Line: 3}
	switch {
	case s.i == 0:
		e.Type = steps.EvStepStarted
	case s.i == 1:
		e.Type, e.Statements = steps.EvIntent, steps.ListOf([]steps.StatementInfo{*st})
	case s.i == 2:
		e.Type, e.Statement = steps.EvStatementStarted, st
	case s.i < 15:
		e.Type = steps.EvRows
		e.Rows = &steps.RowBatch{Rows: [][]string{{"1", "alice", "true"}, {"2", "bob", "false"}, {"3", "carol", "true"}, {"4", "dave", "true"}}, Total: int64(4 * (s.i - 2))}
		if s.i == 3 {
			e.Rows.Columns = []string{"id", "name", "flag"}
		}
	case s.i == 15:
		e.Type, e.Notice = steps.EvNotice, &steps.Notice{Severity: "NOTICE", Message: "relation accounts: 48 rows updated"}
	case s.i == 16:
		done := *st
		done.Tag, done.RowsAffected, done.Elapsed = "UPDATE 48", 48, 3*time.Millisecond
		e.Type, e.Statement = steps.EvStatementFinished, &done
	default:
		e.Type = steps.EvStepSucceeded
	}
	s.i++
	if s.i == 18 {
		s.i = 0
		s.step++
	}
	return e
}

// benchJournal writes an n-event journal (without fsync) once per process.
var benchJournals = map[int]string{}

func benchJournal(b *testing.B, n int) string {
	if p, ok := benchJournals[n]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "handrail-bench")
	if err != nil {
		b.Fatal(err)
	}
	w, err := Create(dir, Header{RunbookID: "bench", SessionID: "bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	w.noSync = true
	s := &synth{t0: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	for range n {
		if err := w.Append(s.next(int64(n))); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	benchJournals[n] = w.Path()
	return w.Path()
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range benchJournals {
		os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}

// BenchmarkAppend measures Append with the real fsync policy: "mix" is
// the synthetic session (1 event in 6 fsynced: step_started, intent and
// the write's result), "rows" only streamed row batches (fsynced once a
// second by the timer), "intent" only fsynced events.
func BenchmarkAppend(b *testing.B) {
	for _, kind := range []string{"mix", "rows", "intent"} {
		b.Run(kind, func(b *testing.B) {
			w, err := Create(b.TempDir(), Header{RunbookID: "bench"}, []string{"s3cr3t-password"})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			s := &synth{t0: time.Now()}
			first := s.next(1 << 62)
			if err := w.Append(first); err != nil {
				b.Fatal(err)
			}
			syncs := w.syncs
			for b.Loop() {
				e := s.next(1 << 62)
				switch kind {
				case "rows":
					e.Type, e.Statement, e.Statements, e.Notice = steps.EvRows, nil, nil, nil
					e.Rows = &steps.RowBatch{Rows: [][]string{{"1", "alice", "true"}, {"2", "bob", "false"}}, Total: 2}
				case "intent":
					e.Type, e.Rows, e.Statement, e.Notice = steps.EvIntent, nil, nil, nil
					e.Statements = steps.ListOf([]steps.StatementInfo{{Index: 0, Count: 1, SQL: "update accounts set flag = true"}})
				}
				if err := w.Append(e); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(w.syncs-syncs)/float64(b.N), "fsyncs/event")
		})
	}
}

const benchEvents = 100_000

// BenchmarkVerify100k reads and verifies a 100,000-event journal: "stream"
// is Verify; "read" is the reference of the same run, what verify did
// before it streamed (Read decodes and keeps every event, then check);
// "floor" only reads the lines and hashes each one, which no verify can
// beat.
func BenchmarkVerify100k(b *testing.B) {
	path := benchJournal(b, benchEvents)
	fi, _ := os.Stat(path)
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			if r := Verify(path); r.Status != Complete || r.Events != benchEvents {
				b.Fatalf("%+v", r)
			}
		}
		b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("read", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			log, err := Read(path)
			if err != nil {
				b.Fatal(err)
			}
			if r := check(log); r.Status != Complete || r.Events != benchEvents {
				b.Fatalf("%+v", r)
			}
		}
		b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("floor", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			br := bufio.NewReaderSize(f, 64<<10)
			var lr lineReader
			n := 0
			for {
				line, _ := lr.next(br)
				if len(line) == 0 {
					break
				}
				_ = sha256.Sum256(line)
				n++
			}
			f.Close()
			if n != benchEvents+1 {
				b.Fatalf("%d lines", n)
			}
		}
		b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// TestSynthJournalFile is not a test: it writes the benchmarks' synthetic
// session to a file, to measure `handrail verify` as a process
// (bench/RESULTS.md):
//
//	HANDRAIL_SYNTH_JOURNAL=/tmp/j100k.jsonl HANDRAIL_SYNTH_EVENTS=100000 go test ./journal -run TestSynthJournalFile
func TestSynthJournalFile(t *testing.T) {
	out := os.Getenv("HANDRAIL_SYNTH_JOURNAL")
	if out == "" {
		t.Skip("writes a synthetic journal when HANDRAIL_SYNTH_JOURNAL names the file")
	}
	n, err := strconv.Atoi(os.Getenv("HANDRAIL_SYNTH_EVENTS"))
	if err != nil || n < 2 {
		t.Fatalf("HANDRAIL_SYNTH_EVENTS must be a number of events (2 or more): %v", err)
	}
	if err := os.WriteFile(out, synthJournal(t, n), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := Verify(out); r.Status != Complete || r.Events != n {
		t.Fatalf("the synthetic journal does not verify: %+v", r)
	}
	t.Logf("%s: %d events", out, n)
}

// BenchmarkFold100k folds the 100,000 events of a journal (as replay and
// resume do after Read).
func BenchmarkFold100k(b *testing.B) {
	log, err := Read(benchJournal(b, benchEvents))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if s := steps.Fold(log.Events); !s.Ended {
			b.Fatal("not ended")
		}
	}
	b.ReportMetric(float64(benchEvents*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkMigrationJournal records what a sql step of 20,000 statements
// writes, as the engine emits it (long: about 90 bytes of SQL each;
// short: about 40, as in a 50 MB file of 1.16M statements):
// step_would_run, the intent, and statement_started and
// statement_finished for each statement. It reports the journal's bytes
// per byte of SQL before the first statement ("before/sql") and after the
// step ("total/sql"), and the journal time per statement. The -paired
// variants record a statement's end and the next one's start with one
// RecordAll, as the engine emits a pipelined step's statements.
func BenchmarkMigrationJournal(b *testing.B) {
	const n = 20_000
	for _, name := range []string{"long", "short", "long-paired", "short-paired"} {
		size, paired := strings.CutSuffix(name, "-paired")
		b.Run(name, func(b *testing.B) {
			infos := make([]steps.StatementInfo, n)
			sqlBytes := 0
			line := 1
			for k := range infos {
				sql := fmt.Sprintf("alter table app.t_%d add column note_%d text default 'x', add column score numeric(10,2);", k/10, k)
				if size == "short" {
					sql = fmt.Sprintf("insert into app.items values (%d, 'n%d');", k, k)
				}
				infos[k] = steps.StatementInfo{Index: k, Count: n, SQL: sql, File: "migrations/bench.sql", Line: line}
				line += 2
				sqlBytes += len(sql) + 2
			}
			var before, total int64
			for b.Loop() {
				w, err := Create(b.TempDir(), Header{RunbookID: "bench"}, []string{"s3cr3t-password"})
				if err != nil {
					b.Fatal(err)
				}
				w.noSync = true
				seq := int64(0)
				add := func(e steps.Event) {
					seq++
					e.Seq, e.Time, e.Step = seq, time.Now(), "migrate"
					if err := w.Append(e); err != nil {
						b.Fatal(err)
					}
				}
				add(steps.Event{Type: steps.EvStepWouldRun, Statements: steps.ListOf(infos)})
				add(steps.Event{Type: steps.EvIntent, Statements: steps.ListOf(infos)})
				before = w.size
				stamp := func(e steps.Event) steps.Event {
					seq++
					e.Seq, e.Time, e.Step = seq, time.Now(), "migrate"
					return e
				}
				for k := range infos {
					st := infos[k]
					if !paired || k == 0 {
						add(steps.Event{Type: steps.EvStatementStarted, Statement: &st})
					}
					st.Tag, st.RowsAffected, st.Elapsed = "ALTER TABLE", 0, 1234*time.Microsecond
					if !paired || k == n-1 {
						add(steps.Event{Type: steps.EvStatementFinished, Statement: &st})
						continue
					}
					next := infos[k+1]
					pair := []steps.Event{stamp(steps.Event{Type: steps.EvStatementFinished, Statement: &st}),
						stamp(steps.Event{Type: steps.EvStatementStarted, Statement: &next})}
					if _, err := w.RecordAll(pair); err != nil {
						b.Fatal(err)
					}
				}
				total = w.size
				w.Close()
			}
			b.ReportMetric(float64(before)/float64(sqlBytes), "before/sql")
			b.ReportMetric(float64(total)/float64(sqlBytes), "total/sql")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/stmt")
		})
	}
}

// BenchmarkEncodeStatementLine is the encoding of one statement line
// (format 2, no I/O): what RecordAll does per line before its write.
func BenchmarkEncodeStatementLine(b *testing.B) {
	w, err := Create(b.TempDir(), Header{RunbookID: "bench"}, []string{"s3cr3t-password"})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	st := steps.StatementInfo{Index: 7, Count: 20000, SQL: "insert into app.items values (7, 'n7');", File: "migrations/bench.sql", Line: 15}
	if _, err := w.Record(steps.Event{Seq: 1, Time: time.Now(), Type: steps.EvIntent, Step: "migrate", Statements: steps.ListOf([]steps.StatementInfo{st})}); err != nil {
		b.Fatal(err)
	}
	fin := st
	fin.Tag, fin.Elapsed = "INSERT 0 1", 1234*time.Microsecond
	e := steps.Event{Seq: 2, Time: time.Now(), Mono: time.Second, Type: steps.EvStatementFinished, Step: "migrate", Statement: &fin}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := w.encodeLine(e, w.head); err != nil {
			b.Fatal(err)
		}
	}
}
