package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// Frame cost at the prompt of a long sql step (issue 15): what enter will
// send is listed statement by statement, and the screen must draw only the
// lines on screen. Each benchmark runs at 200 and 20,000 statements: the
// ratio between the two shows whether a frame's cost grows with the step.

var promptSizes = []int{200, 20_000}

// migrationStatements is a migration of n statements shaped like the
// harness's (bench/compare/workloads.go): a multi-line create table, then
// inserts, updates and small DDL, one line each, some wider than the pane.
func migrationStatements(n int) []steps.StatementInfo {
	out := make([]steps.StatementInfo, n)
	line := 3
	for i := range out {
		var sql string
		switch {
		case i == 0:
			sql = "create table bench.items (\n\tid int primary key,\n\tname text not null,\n\tqty int not null default 0,\n\tnote text\n)"
		case i%40 == 0:
			sql = fmt.Sprintf("create table bench.aux_%d (id int primary key, v text default 'aux; %d')", i/40, i)
		case i%8 == 0:
			sql = fmt.Sprintf("update bench.items set qty = qty + 1, note = 'touched by %d' where id = %d", i, 1+(i*7919)%i)
		default:
			sql = fmt.Sprintf("insert into bench.items (id, name, qty) values (%d, 'item %d; ok', %d)", i, i, i%97)
		}
		out[i] = steps.StatementInfo{Index: i, Count: n, SQL: sql, File: "migrations/bench.sql", Line: line}
		line += strings.Count(sql, "\n") + 1
	}
	return out
}

// promptModel is a live screen, w x h, at the prompt of apply-001 with n
// statements to run.
func promptModel(tb testing.TB, n, w, h int) Model {
	tb.Helper()
	return promptModelOf(tb, migrationStatements(n), w, h)
}

// promptModelOf is promptModel with these statements.
func promptModelOf(tb testing.TB, stmts []steps.StatementInfo, w, h int) Model {
	tb.Helper()
	n := len(stmts)
	f := toApplyStart(true)
	f.add(steps.Event{Type: steps.EvStepWouldRun, Step: "apply-001", Statements: steps.ListOf(stmts)})
	m := New(Options{Mode: Live, Send: func(steps.Command) {}, Initial: f.evs, Now: func() time.Time { return t0.Add(f.mono) }})
	m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	if got := plain(m); !strings.Contains(got, fmt.Sprintf("enter sends %d statement(s)", n)) {
		tb.Fatalf("not at the prompt of %d statements:\n%s", n, got)
	}
	return m
}

// View at the prompt: one frame.
func BenchmarkViewSQLPrompt(b *testing.B) {
	for _, n := range promptSizes {
		b.Run(fmt.Sprintf("stmts=%d", n), func(b *testing.B) {
			m := promptModel(b, n, 120, 40)
			_ = m.View()
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// A clock tick at the prompt: the Update and the frame it causes.
func BenchmarkClockTickSQLPrompt(b *testing.B) {
	for _, n := range promptSizes {
		b.Run(fmt.Sprintf("stmts=%d", n), func(b *testing.B) {
			m := promptModel(b, n, 120, 40)
			_ = m.View()
			b.ReportAllocs()
			for b.Loop() {
				next, _ := m.Update(clockMsg{})
				m = next.(Model)
				_ = m.View()
			}
		})
	}
}

// Key to frame at the prompt: Update of a key and the frame it causes,
// for ? (help on and off), pgdn and j.
func BenchmarkKeySQLPrompt(b *testing.B) {
	for _, n := range promptSizes {
		for _, k := range []string{"?", "pgdown", "j"} {
			b.Run(fmt.Sprintf("stmts=%d/key=%s", n, k), func(b *testing.B) {
				m := promptModel(b, n, 120, 40)
				_ = m.View()
				start := m
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if i++; i%500 == 0 {
						m = start // pgdn and j stop at the bottom of a short list
					}
					next, _ := m.Update(keyMsg(k))
					m = next.(Model)
					_ = m.View()
				}
			})
		}
	}
}

// A batch of 100 rows the fold keeps (issue 15: a batch is folded once,
// and only its own rows are escaped). Every 40 batches the screen is
// built again with 100 rows (untimed; the fold's Apply changes a state in
// place, so an older Model is no way back), so the rows kept stay between
// 100 and 4,100.
func BenchmarkFoldRowBatchKept(b *testing.B) {
	for _, hostile := range []bool{false, true} {
		b.Run(fmt.Sprintf("hostile=%v", hostile), func(b *testing.B) {
			batch := stepEventMsg{rowBatch(100, 100)}
			if hostile {
				batch = stepEventMsg{hostileRowBatch(100, 100)}
			}
			m := rowsModel(b, 200, 60, 100, 1<<20)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i++; i%40 == 0 {
					b.StopTimer()
					m = rowsModel(b, 200, 60, 100, 1<<20)
					b.StartTimer()
				}
				next, _ := m.Update(batch)
				m = next.(Model)
			}
		})
	}
}

// During the step: a statement starts and finishes (a batch of the two
// events) and the frame is drawn. Its cost must not grow with the number
// of statements the step lists.
func BenchmarkStatementEventsInLongStep(b *testing.B) {
	for _, n := range promptSizes {
		b.Run(fmt.Sprintf("stmts=%d", n), func(b *testing.B) {
			stmts := migrationStatements(n)
			m := promptModelOf(b, stmts, 120, 40)
			m = update(m, stepEventMsg{steps.Event{Type: steps.EvIntent, Step: "apply-001", Statements: steps.ListOf(stmts), Seq: m.state.Seq + 1}})
			_ = m.View()
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				st := stmts[k%n]
				fin := st
				fin.Tag, fin.Elapsed = "INSERT 0 1", time.Millisecond
				next, _ := m.Update(eventBatchMsg{
					{Type: steps.EvStatementStarted, Step: "apply-001", Statement: &st},
					{Type: steps.EvStatementFinished, Step: "apply-001", Statement: &fin},
				})
				m = next.(Model)
				_ = m.View()
				k++
			}
		})
	}
}

// During the step, paced: one delivery of 1,000 statements' events (2,000:
// what ~35 ms of a pipelined step emits), folded by Update, then a frame.
func BenchmarkStatementBatchInLongStep(b *testing.B) {
	const n, batch = 20_000, 1_000
	stmts := migrationStatements(n)
	m := promptModelOf(b, stmts, 120, 40)
	m = update(m, stepEventMsg{steps.Event{Type: steps.EvIntent, Step: "apply-001", Statements: steps.ListOf(stmts), Seq: m.state.Seq + 1}})
	_ = m.View()
	events := make(eventBatchMsg, 0, 2*batch)
	for k := range batch {
		st := stmts[k]
		fin := st
		fin.Tag, fin.Elapsed = "INSERT 0 1", time.Millisecond
		events = append(events,
			steps.Event{Type: steps.EvStatementStarted, Step: "apply-001", Statement: &st},
			steps.Event{Type: steps.EvStatementFinished, Step: "apply-001", Statement: &fin})
	}
	b.ReportAllocs()
	for b.Loop() {
		next, _ := m.Update(events)
		_ = next.(Model).View()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(events)), "ns/event")
}
