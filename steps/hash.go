package steps

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"iter"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// computeHash returns the hex SHA-256 over the runbook file and the
// referenced files, in path order. Each file is hashed as its relative
// path, a NUL byte, its length as 8 big-endian bytes, then its content, so
// no change can move bytes across a file boundary unnoticed.
func computeHash(name string, source []byte, files map[string]string) string {
	all := map[string]string{name: string(source)}
	for p, b := range files {
		all[p] = b
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	var n [8]byte
	buf := make([]byte, 64<<10)
	for _, p := range paths {
		h.Write([]byte(p))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(n[:], uint64(len(all[p])))
		h.Write(n[:])
		writeString(h, all[p], buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeString writes s to h through buf, a chunk at a time: a 50 MB
// migration is hashed without a second copy of it (a conversion of each
// chunk to []byte allocated it anew, the whole file in all).
func writeString(h hash.Hash, s string, buf []byte) {
	for len(s) > 0 {
		n := copy(buf, s)
		h.Write(buf[:n])
		s = s[n:]
	}
}

// Files returns the relative paths (slash-separated, cleaned, sorted,
// without duplicates) of the files r's steps reference, phases and
// rollback alike. runbook.toml itself is not included.
func Files(r *Runbook) []string {
	seen := map[string]bool{}
	var out []string
	add := func(steps []Step) {
		for _, s := range steps {
			if s.File == "" {
				continue
			}
			p, err := cleanRel(s.File)
			if err != nil {
				p = s.File
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	for _, ph := range r.Phases {
		add(ph.Steps)
	}
	add(r.Rollback.Steps)
	sort.Strings(out)
	return out
}

// Source returns runbook.toml as it was read and hashed (nil if r was not
// loaded by Load/LoadFS).
func (r *Runbook) Source() []byte { return r.source }

// FileContent returns a referenced file (path relative to the runbook
// directory). A loaded runbook answers from the content read, and hashed,
// at load time and never reads the disk again; a runbook built in code
// reads Dir.
func (r *Runbook) FileContent(rel string) (string, error) {
	p, err := cleanRel(rel)
	if err != nil {
		return "", err
	}
	if r.loaded {
		b, ok := r.files[p]
		if !ok {
			return "", fmt.Errorf("%s: not loaded with the runbook", p)
		}
		return b, nil
	}
	return r.readFile(p)
}

// readFile reads a referenced file for validation: from the file system
// Load read runbook.toml from, or, for a runbook built in code, from Dir.
func (r *Runbook) readFile(rel string) (string, error) {
	if r.read != nil {
		return r.read(rel)
	}
	f, err := os.Open(filepath.Join(r.Dir, filepath.FromSlash(rel)))
	if err != nil {
		return "", err
	}
	return readText(f)
}

// readText reads f to its end as a string and closes it. The string is
// the one copy of the file: a 53 MB migration read as []byte and then
// converted was held twice until the bytes were collected (issue 15).
func readText(f fs.File) (string, error) {
	defer f.Close()
	var b strings.Builder
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() < math.MaxInt {
		b.Grow(int(fi.Size()))
	}
	if _, err := io.Copy(&b, f); err != nil {
		return "", err
	}
	return b.String(), nil
}

// StepStatements returns the SQL statements step s runs: those of its
// file, its statements list, or (for a check) its sql, split with
// SplitStatements. Statement.File and Statement.Line say where each one
// is: for a file, the line in that file; for inline SQL, the line in
// runbook.toml when r was loaded, else the line within the string. Steps
// without SQL return nil.
//
// The slice is the caller's: a loaded runbook keeps a file's statements
// as one list (stepList) and makes them from it.
func (r *Runbook) StepStatements(s Step) ([]Statement, error) {
	return r.stepStatements(s)
}

func (r *Runbook) stepStatements(s Step) ([]Statement, error) {
	name := r.tomlName
	if name == "" {
		name = RunbookFile
	}
	inline := func(texts []string) []Statement {
		base := r.stmtBase[s.ID]
		var out []Statement
		for i, text := range texts {
			for _, st := range sqlscan.SplitStatements(text) {
				st.File = name
				if i < len(base) && len(base) == len(texts) {
					st.Line += base[i] - 1
				}
				out = append(out, st)
			}
		}
		return out
	}
	switch {
	case s.File != "":
		if l := r.fileList(s); l != nil {
			return l.statements(), nil
		}
		b, err := r.FileContent(s.File)
		if err != nil {
			return nil, err
		}
		rel, _ := cleanRel(s.File)
		stmts := sqlscan.SplitStatements(b)
		for i := range stmts {
			stmts[i].File = rel
		}
		return stmts, nil
	case len(s.Statements) > 0:
		return inline(s.Statements), nil
	case s.SQL != "":
		return inline([]string{s.SQL}), nil
	}
	return nil, nil
}

// StatementCount is how many statements step s runs:
// len(StepStatements(s)), without making them (a loaded runbook counts
// a file's list as it is): the plan's count of a step.
func (r *Runbook) StatementCount(s Step) (int, error) {
	if l := r.fileList(s); l != nil {
		return l.Len(), nil
	}
	stmts, err := r.stepStatements(s)
	return len(stmts), err
}

// stepSQL yields the SQL of each statement step s runs (StepStatements'),
// one at a time: a loaded runbook reads a file's list, no []Statement.
func (r *Runbook) stepSQL(s Step) (iter.Seq[string], error) {
	if l := r.fileList(s); l != nil {
		return func(yield func(string) bool) {
			for k := range l.Len() {
				if !yield(l.SQL(k)) {
					return
				}
			}
		}, nil
	}
	stmts, err := r.stepStatements(s)
	if err != nil {
		return nil, err
	}
	return func(yield func(string) bool) {
		for _, st := range stmts {
			if !yield(st.SQL) {
				return
			}
		}
	}, nil
}

// stepList returns the statements of step s as the list its events carry:
// for a file of a loaded runbook, the runbook's own list (views into the
// file, shared read-only); otherwise a new list.
func (r *Runbook) stepList(s Step) (*StatementList, error) {
	if l := r.fileList(s); l != nil {
		return l, nil
	}
	stmts, err := r.stepStatements(s)
	if err != nil {
		return nil, err
	}
	return ListOf(statementInfos(stmts)), nil
}

// fileList is the loaded runbook's list of step s's file; nil when s has
// no file or r keeps no list of it.
func (r *Runbook) fileList(s Step) *StatementList {
	if s.File == "" || !r.loaded {
		return nil
	}
	rel, err := cleanRel(s.File)
	if err != nil {
		return nil
	}
	return r.splits[rel]
}
