package ui

import (
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/steps"
)

// Long panes draw only the lines on screen (issue 15). A sql step of
// 20,000 statements lists about 52,000 wrapped lines before it runs; the
// frame wraps and styles the 30 on screen, and finds them through an index
// of where each statement's block starts at the pane's width. The index is
// the one thing worth keeping across frames: it is computed once per list
// and width (counting wrapped lines, without styling them) and reused by
// every frame, key and clock tick after.

// stmtIndex is where each statement's block (a "-- k/n" line, then its SQL
// wrapped) starts in the list at one width: start[k] is the block's first
// line, start[len] the list's length.
type stmtIndex struct {
	stmts *steps.StatementList
	w     int
	start []int32

	// The statements drawn lately, in the styles they were drawn in: a
	// clock tick or a key draws the same lines again without styling them
	// again. Scrolling draws new ones; past maxDrawnBlocks they all go.
	mu     sync.Mutex
	styles *Styles
	drawn  map[int][]string
}

const maxDrawnBlocks = 256

// block returns statement k's lines drawn in styles, by draw when they
// are not drawn yet.
func (ix *stmtIndex) block(k int, styles *Styles, draw func(*steps.StatementInfo) []string) []string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.styles != styles || len(ix.drawn) >= maxDrawnBlocks {
		ix.styles, ix.drawn = styles, map[int][]string{}
	}
	if lines, ok := ix.drawn[k]; ok {
		return lines
	}
	st := escapedStatement(ix.stmts.At(k))
	lines := draw(&st)
	ix.drawn[k] = lines
	return lines
}

// renderCache keeps what frames reuse. Models share it (a copy of a Model
// points to the same cache): it is a memo of pure functions of its keys,
// so it never makes one Model see another's state. A new list (another
// step, a retry) or a new width is a new key; the oldest entry goes.
type renderCache struct {
	mu      sync.Mutex
	indexes []*stmtIndex // most recent last
	// For the escaped state (termsafe.go).
	rows rowsMemo
}

const maxCachedIndexes = 4

// stmtIndexOf returns the index of stmts at width w, from the cache or
// computed now.
func (c *renderCache) stmtIndexOf(stmts *steps.StatementList, w int) *stmtIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ix := range c.indexes {
		if ix.w == w && ix.stmts == stmts {
			return ix
		}
	}
	ix := newStmtIndex(stmts, w)
	if len(c.indexes) == maxCachedIndexes {
		c.indexes = append(c.indexes[:0], c.indexes[1:]...)
	}
	c.indexes = append(c.indexes, ix)
	return ix
}

// The fold never changes a statement list (a new step_would_run brings a
// new list), so the same pointer is the same list.
func newStmtIndex(stmts *steps.StatementList, w int) *stmtIndex {
	ix := &stmtIndex{stmts: stmts, w: w, start: make([]int32, stmts.Len()+1)}
	n := 0
	for k := range stmts.Len() {
		ix.start[k] = int32(n)
		n += 1 + sqlLineCount(markText(stmts.SQL(k), sqlIsText), w) // as escapedStatement escapes it
	}
	ix.start[stmts.Len()] = int32(n)
	return ix
}

// escapedStatement is st with its strings escaped for the screen. The
// shown state's statement lists are the fold's, unescaped (termsafe.go,
// escapeStep): the index counts, and block draws, through this.
func escapedStatement(st steps.StatementInfo) steps.StatementInfo {
	if v, changed := escapeValue(reflect.ValueOf(st), false); changed {
		return v.Interface().(steps.StatementInfo)
	}
	return st
}

// sqlIsText: StatementInfo.SQL is escaped as text (textFields).
var sqlIsText = textFields["SQL"]

// lines is the length of the list.
func (ix *stmtIndex) lines() int { return int(ix.start[ix.stmts.Len()]) }

// at returns the statement whose block holds line i, and i's line in it.
func (ix *stmtIndex) at(i int) (k, j int) {
	k = sort.Search(ix.stmts.Len(), func(k int) bool { return int(ix.start[k+1]) > i })
	return k, i - int(ix.start[k])
}

// sqlLineCount is len(m.sqlLines(sql, w, no limit)) without wrapping or
// styling a line.
func sqlLineCount(sql string, w int) int {
	w = max(1, w-2)
	s, n := strings.TrimSpace(sql), 0
	for {
		l, rest, more := strings.Cut(s, "\n")
		n += wrappedLines(l, w)
		if !more {
			return n
		}
		s = rest
	}
}

// wrappedLines is len(wrapAll([]string{l}, w)): counted, for a line of
// printable ASCII, without building the lines.
func wrappedLines(l string, w int) int {
	if width(l) <= w {
		return 1
	}
	ind := hangIndent(l)
	if ind > w/2 {
		ind = 0
	}
	if n, ok := asciiWrapCount(l[ind:], w-ind); ok {
		return n
	}
	return len(wrapAll([]string{l}, w))
}

// asciiWrapCount counts the lines wrapAtSpaces(s, limit) makes of s, by
// its rules (words break at spaces, a word longer than the line is cut),
// when s is printable ASCII; ok is false otherwise.
// FuzzASCIIWrapCount holds it to wrapAtSpaces.
func asciiWrapCount(s string, limit int) (n int, ok bool) {
	if limit < 1 {
		return 1, true
	}
	lines, cur, word, space := 1, 0, 0, 0
	addWord := func() {
		if word > 0 {
			cur += space + word
			space, word = 0, 0
		}
	}
	newline := func() { lines, cur, space = lines+1, 0, 0 }
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e:
			return 0, false
		case c == ' ':
			addWord()
			space++
		default:
			if cur == limit {
				newline()
			}
			word++
			if word == limit {
				addWord()
			}
			if cur+word+space > limit {
				newline()
			}
		}
	}
	return lines, true
}
