package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/steps"
)

// A batch of result rows as the engine sends them.
func rowBatch(from, n int) steps.Event {
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = []string{fmt.Sprint(from + i), fmt.Sprintf("user-%06d@example.com", from+i), "true", "2025-03-14 09:30:00+00"}
	}
	return steps.Event{Type: steps.EvRows, Step: "apply-001", Rows: &steps.RowBatch{Rows: rows, Total: int64(from + n)}}
}

var benchCols = []string{"id", "email", "active", "created_at"}

// rowsModel: a live screen on a running statement with n rows kept.
func rowsModel(b *testing.B, w, h, n, keep int) Model {
	b.Helper()
	f := toApply().statement("apply-001", 0, 1, "select * from auth.users")
	f.evs[0].Session.KeepRows = keep
	first := rowBatch(0, n)
	first.Rows.Columns = benchCols
	f.add(first)
	m := New(Options{Mode: Live, Send: func(steps.Command) {}, Initial: f.evs, Now: func() time.Time { return t0 }})
	return update(m, tea.WindowSizeMsg{Width: w, Height: h})
}

// The screen must not re-render 1000 rows when 40 are visible.
func BenchmarkViewRun200x60With1000Rows(b *testing.B) {
	m := rowsModel(b, 200, 60, 1000, 2000)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// 10,000 rows a second arrive as batches; folding one must be cheap.
// A batch of 100 rows: 100 batches a second.
func BenchmarkUpdateRowBatch(b *testing.B) {
	m := rowsModel(b, 200, 60, 100, 500)
	batch := stepEventMsg{rowBatch(100, 100)}
	b.ReportAllocs()
	for b.Loop() {
		next, _ := m.Update(batch)
		m = next.(Model)
	}
}

// One batch folded and drawn, the cost per frame while rows stream in.
func BenchmarkUpdateAndViewRowBatch(b *testing.B) {
	m := rowsModel(b, 200, 60, 100, 500)
	batch := stepEventMsg{rowBatch(100, 100)}
	b.ReportAllocs()
	for b.Loop() {
		next, _ := m.Update(batch)
		m = next.(Model)
		_ = m.View()
	}
}

// The keep_rows cap holds: the fold keeps at most keep_rows rows however
// many arrive.
func TestRowsAreCappedAtKeepRows(t *testing.T) {
	f := toApply().statement("apply-001", 0, 1, "select * from auth.users")
	first := rowBatch(0, 400)
	first.Rows.Columns = benchCols
	f.add(first).add(rowBatch(400, 400))
	m, _ := newLive(f)
	st := m.state.CurrentStep()
	if len(st.Rows) != 500 || st.TotalRows != 800 {
		t.Fatalf("kept %d of %d rows, want 500 of 800", len(st.Rows), st.TotalRows)
	}
	mustContain(t, plain(m), "800 row(s) received, first 500 kept")
}

func TestWidthMatchesANSI(t *testing.T) {
	s := NewStyles(true, false)
	for _, in := range []string{"", "plain", s.Bold.Render("bold") + " x", s.DryRun.Render("DRY RUN"), "héllo", "日本語", "a\tb", "\x1b]8;;http://x\x07link\x1b]8;;\x07"} {
		if got, want := width(in), ansi.StringWidth(in); got != want {
			t.Errorf("width(%q) = %d, want %d", in, got, want)
		}
	}
}

// A partner catching up, or a chatty exec step (pg_dump -v): 512 output
// lines arrive as one batch while the exec pane shows a full output tail.
// The reference is the same batch of row events, which touch no viewport.
func BenchmarkUpdateExecOutputBatch(b *testing.B) {
	f := new(fake).start(true).verified().stepStarted("pg-dump")
	line := func(i int) steps.Event {
		return steps.Event{Type: steps.EvExecOutput, Step: "pg-dump", Text: fmt.Sprintf("pg_dump: dumping contents of table \"public.t%05d\" %s\n", i, strings.Repeat("x", 80))}
	}
	for i := range 1000 { // a full output tail (64 KiB)
		f.add(line(i))
	}
	m := update(New(Options{Mode: Watch, Initial: f.evs, Now: func() time.Time { return t0 }}), tea.WindowSizeMsg{Width: 200, Height: 60})
	execBatch := make(eventBatchMsg, 512)
	for i := range execBatch {
		execBatch[i] = line(1000 + i)
	}
	rowsBatch := make(eventBatchMsg, 512)
	for i := range rowsBatch {
		rowsBatch[i] = steps.Event{Type: steps.EvLockWait, Step: "pg-dump"}
	}
	for name, batch := range map[string]eventBatchMsg{"exec-output": execBatch, "reference-lock-wait": rowsBatch} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				next, _ := m.Update(batch)
				_ = next.(Model)
			}
		})
	}
}
