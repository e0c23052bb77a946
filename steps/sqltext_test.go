package steps

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

func TestSQLTextFault(t *testing.T) {
	for _, tt := range []struct {
		name      string
		src       string
		line, col int
		what      string
		count     int
	}{
		{"plain SQL", "create table t (a int);\n\tselect 'é ✓ 🐘';\r\n\f", 0, 0, "", 0},
		{"NUL", "select 1;\nselect\x002;\n", 2, 7, "NUL byte", 1},
		{"latin1", "select 'caf\xe9';\n", 1, 12, "byte 0xE9 is not UTF-8", 1},
		{"truncated rune", "select '\xe2\x9c';", 1, 9, "byte 0xE2 is not UTF-8", 2},
		{"UTF-8 BOM", "\uFEFFselect 1;", 1, 1, "byte order mark", 1},
		{"BOM later is text", "select '\uFEFF';", 0, 0, "", 0},
		{"UTF-16", "\xFF\xFEs\x00e\x00", 1, 1, "UTF-16", 1},
		{"ESC", "select 1;\n\n  select '\x1b[2J';", 3, 11, "U+001B", 1},
		{"C1 CSI", "select '\u009b31m';", 1, 9, "U+009B", 1},
		{"DEL", "select 1\x7f;", 1, 9, "U+007F", 1},
		{"VT", "select 1\v;", 1, 9, "U+000B", 1},
		{"many", "\x00\x00\x00", 1, 1, "first of 3", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := sqlTextFault(tt.src)
			if tt.what == "" {
				if f != nil {
					t.Fatalf("fault in text: %+v", f)
				}
				return
			}
			if f == nil {
				t.Fatal("no fault")
			}
			if f.Line != tt.line || f.Col != tt.col || !strings.Contains(f.What, tt.what) || f.Count != tt.count || f.Hint == "" {
				t.Errorf("got %+v, want %d:%d %q count %d", f, tt.line, tt.col, tt.what, tt.count)
			}
		})
	}
}

// randomBytes is deterministic noise, as a binary file would hold.
func randomBytes(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}

// Lint refuses SQL that is not text, wherever the runbook's SQL comes
// from, with the file, line and column of the first bad byte, and says
// nothing else about that file (no splitter noise, no "no statements").
func TestLoadRejectsBinarySQL(t *testing.T) {
	const rb = testRunbookHead + `
[[phase]]
title = "Work"

  [[phase.step]]
  kind = "sql"
  id = "nul"
  file = "nul.sql"

  [[phase.step]]
  kind = "sql"
  id = "latin1"
  file = "latin1.sql"

  [[phase.step]]
  kind = "sql"
  id = "random"
  file = "random.sql"

  [[phase.step]]
  kind = "sql"
  id = "utf16"
  file = "utf16.sql"

  [[phase.step]]
  kind = "sql"
  id = "inline"
  statements = ["select 1", "select 2\u0000"]

  [[phase.step]]
  kind = "check"
  id = "check"
  sql = "select '\u001b]0;owned\u0007'"
  expect_rows = 1

  [[phase.step]]
  kind = "sql"
  id = "fine"
  file = "fine.sql"

[rollback]
  [[rollback.step]]
  kind = "sql"
  statements = ["select 1"]
`
	files := map[string]string{
		"runbook.toml": rb,
		"nul.sql":      "-- header\ncreate table t (a int);\ninsert into t values (1)\x00;\n",
		"latin1.sql":   "update t set name = 'Jos\xe9';\n",
		"random.sql":   randomBytes(4096),
		"utf16.sql":    "\xFF\xFEs\x00e\x00l\x00",
		"fine.sql":     "update t set name = 'José ✓';\n",
	}
	r, ps := Load(writeRunbook(t, files))
	if r == nil {
		t.Fatal("no runbook")
	}
	// random.sql: where its first bad byte is.
	rf := sqlTextFault(files["random.sql"])
	matchProblems(t, ps, []problemLine{
		{"nul.sql", 3, Error, "NUL byte"},
		{"latin1.sql", 1, Error, "byte 0xE9 is not UTF-8"},
		{"random.sql", rf.Line, Error, "this is not SQL text (first of"},
		{"utf16.sql", 1, Error, "UTF-16"},
		{"runbook.toml", 42, Error, "NUL byte"},
		{"runbook.toml", 47, Error, "U+001B"},
	})
	cols := map[string]int{"nul.sql": 25, "latin1.sql": 25, "random.sql": rf.Col, "utf16.sql": 1}
	for _, p := range ps {
		for file, col := range cols {
			if strings.HasSuffix(p.Path, file) && p.Col != col {
				t.Errorf("%s: column %d, want %d", p, p.Col, col)
			}
		}
	}
}

// FuzzSQLFileText: whatever bytes a runbook's SQL file holds, Load
// either accepts them as text or reports the first bad byte exactly, at
// a line and column inside the file; it never panics.
func FuzzSQLFileText(f *testing.F) {
	f.Add([]byte("select 1;\n"))
	f.Add([]byte("insert into t values ('\x00');"))
	f.Add([]byte("update t set a = 'caf\xe9';"))
	f.Add([]byte(randomBytes(512)))
	f.Add([]byte("\xFF\xFEs\x00e\x00l\x00"))
	f.Add([]byte("\uFEFFselect 1;"))
	f.Add([]byte("select '\x1b[31m';\nselect '\u009d';"))
	f.Add([]byte("create table \"✓\" (a int);\r\n\fselect 1;"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"rb/runbook.toml": &fstest.MapFile{Data: []byte(testRunbookHead + `
[[phase]]
title = "Work"
  [[phase.step]]
  kind = "sql"
  id = "apply"
  transaction = false
  file = "a.sql"
`)},
			"rb/a.sql": &fstest.MapFile{Data: data},
		}
		_, ps := LoadFS(fsys, "rb")
		var fault *Problem
		for i, p := range ps {
			if p.Path == "rb/a.sql" && (strings.Contains(p.Msg, "not SQL text") || strings.Contains(p.Msg, "control character") ||
				strings.Contains(p.Msg, "byte order mark") || strings.Contains(p.Msg, "UTF-16")) {
				fault = &ps[i]
			}
		}
		src := string(data)
		text := utf8.ValidString(src) && !strings.ContainsFunc(src, isControl) && !strings.HasPrefix(src, "\uFEFF")
		if text {
			if fault != nil {
				t.Fatalf("text reported as not text: %s", fault)
			}
			return
		}
		if fault == nil {
			t.Fatalf("%q: not text, but no problem: %v", src, ps)
		}
		lines := strings.Split(src, "\n")
		if fault.Line < 1 || fault.Line > len(lines) || fault.Col < 1 || fault.Col > len(lines[fault.Line-1])+1 {
			t.Fatalf("position %d:%d outside the file: %s", fault.Line, fault.Col, fault)
		}
		off := len(strings.Join(lines[:fault.Line-1], "\n")) + fault.Col - 1
		if fault.Line > 1 {
			off++ // the newline before the line
		}
		rest := src[off:]
		r, size := utf8.DecodeRuneInString(rest)
		bad := (r == utf8.RuneError && size <= 1) || isControl(r) || (off == 0 && (r == '\uFEFF' || utf16BOM(src)))
		if !bad {
			t.Fatalf("%s points at %q, which is text", fault, rest[:size])
		}
		if strings.ContainsFunc(src[:off], isControl) || !utf8.ValidString(src[:off]) {
			t.Fatalf("%s is not the first bad byte", fault)
		}
	})
}

// bigMigration is a 20,000-statement migration, as the bench's largest.
func bigMigration() string {
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "insert into t (id, name) values (%d, 'name ✓ %d'); -- row %d\n", i, i, i)
	}
	return b.String()
}

// The text check runs on every SQL file at load, before the split: it
// should cost a fraction of the split it guards. Compare the two:
//
//	go test -run '^$' -bench 'SQLTextFault|SplitStatementsBig' -count 10 ./steps/ | benchstat -
func BenchmarkSQLTextFault(b *testing.B) {
	src := bigMigration()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if sqlTextFault(src) != nil {
			b.Fatal("fault")
		}
	}
}

func BenchmarkSplitStatementsBig(b *testing.B) {
	src := bigMigration()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if len(sqlscan.SplitStatements(src)) != 20000 {
			b.Fatal("split")
		}
	}
}
