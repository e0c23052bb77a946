package ui

import (
	"strings"
)

// table renders result rows by hand: column widths come from the header
// and the first rows only, so a frame costs the same with 10 rows or 1000,
// and a row is rendered only when it is on screen.
type table struct {
	cols   []string
	rows   [][]string
	widths []int
	s      *Styles
}

// Limits of the column measurement.
const (
	measureRows = 50
	maxColWidth = 40
	minColWidth = 3
	colGap      = "  "
)

func newTable(cols []string, rows [][]string, w int, s *Styles) table {
	t := table{cols: cols, rows: rows, widths: make([]int, len(cols)), s: s}
	for i, c := range cols {
		t.widths[i] = width(c)
	}
	for _, r := range rows[:min(measureRows, len(rows))] {
		for i := range min(len(r), len(cols)) {
			t.widths[i] = max(t.widths[i], width(r[i]))
		}
	}
	for i := range t.widths {
		t.widths[i] = max(minColWidth, min(maxColWidth, t.widths[i]))
	}
	shrink(t.widths, w-len(colGap)*max(0, len(cols)-1))
	return t
}

// shrink narrows the widest columns until they fit in total.
func shrink(widths []int, total int) {
	sum := 0
	for _, w := range widths {
		sum += w
	}
	for sum > total {
		wi := 0
		for i, w := range widths {
			if w > widths[wi] {
				wi = i
			}
		}
		if widths[wi] <= minColWidth {
			return
		}
		widths[wi]--
		sum--
	}
}

func (t table) header() string {
	return t.s.TableHdr.Render(t.line(t.cols))
}

func (t table) row(i int) string {
	return t.line(t.rows[i])
}

func (t table) line(cells []string) string {
	var b strings.Builder
	for i, w := range t.widths {
		if i > 0 {
			b.WriteString(colGap)
		}
		cell := ""
		if i < len(cells) {
			cell = cells[i] // escaped to one line by drawn()
		}
		b.WriteString(fit(cell, w))
	}
	return b.String()
}

// tableBlock renders a small table whole, with an optional title line.
func tableBlock(cols []string, rows [][]string, w int, s *Styles, title string) []string {
	var lines []string
	if title != "" {
		lines = append(lines, s.Bold.Render(title))
	}
	t := newTable(cols, rows, w, s)
	lines = append(lines, t.header())
	for i := range rows {
		lines = append(lines, t.row(i))
	}
	if len(rows) == 0 {
		lines = append(lines, s.Muted.Render("(no rows)"))
	}
	return lines
}
