// Package scaffold writes a first runbook for a directory of migration
// files (`handrail new`): one sql step per file in lexical order (the
// order the Supabase CLI applies them in), a [target] with placeholders
// that lint explains, the standard pre-flight checklist, a smoke test and
// a [rollback] section to complete. The result lints without errors and
// runs in the demo sandbox as it is; its warnings say what is left to do
// before a real run.
package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Options says what to scaffold.
type Options struct {
	// Migrations is the directory holding the .sql files.
	Migrations string
	// Out is the runbook.toml to write, or a directory to write
	// runbook.toml into. It must be the migrations directory or above
	// it, since a runbook names its files by paths inside its own
	// directory. Empty: runbook.toml in the migrations directory's parent
	// (supabase/migrations -> supabase/runbook.toml).
	Out string
	// ID is the runbook id; empty derives one from the directory names.
	ID string
	// After leaves out the migrations the target already has: every file
	// whose name sorts at or before it, or starts with it (so a version
	// like 20240601000000 covers 20240601000000_create_x.sql).
	After string
}

// Migration is one .sql file that became a sql step.
type Migration struct {
	Name   string // file name, e.g. 20240101000000_create_profiles.sql
	File   string // path relative to the runbook directory, with / separators
	StepID string
	// Statements is how many statements the file holds.
	Statements int
	// NoTransaction is why the step runs with transaction = false (a
	// statement PostgreSQL refuses inside a transaction block), or "".
	NoTransaction string
	// TransactionControl names a BEGIN/COMMIT/... in the file, which a
	// transactional step cannot hold (lint says what to do), or "".
	TransactionControl string
}

// Skipped is a directory entry that did not become a step, and why.
type Skipped struct {
	Name, Why string
}

// Plan is a scaffolded runbook, ready to write.
type Plan struct {
	// Path is the runbook.toml to write (as the user spelled the paths).
	Path string
	// Dir is the runbook directory (Path's directory).
	Dir        string
	ID         string
	Supabase   bool // the migrations directory is a Supabase project's supabase/migrations
	Migrations []Migration
	Skipped    []Skipped
	// Notes are things the author should know about the input, e.g.
	// numbered names that do not sort in numeric order.
	Notes []string
	// Text is the runbook.toml content.
	Text []byte
}

// ErrExists is returned (wrapped) when the runbook file already exists:
// scaffolding never overwrites a runbook.
var ErrExists = errors.New("runbook file already exists")

// Make reads the migrations directory and builds the runbook. It writes
// nothing; see Plan.Write.
func Make(opts Options) (*Plan, error) {
	migDir := filepath.Clean(opts.Migrations)
	fi, err := os.Stat(migDir)
	if err != nil {
		return nil, fmt.Errorf("migrations directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory: give the directory that holds the migration files", migDir)
	}
	p := &Plan{}
	p.Path, p.Dir = outPath(opts.Out, migDir)
	if _, err := os.Lstat(p.Path); err == nil {
		return nil, fmt.Errorf("%w: %s; handrail new never overwrites a runbook: choose another --out, or move the old one away", ErrExists, p.Path)
	}
	rel, err := relInside(p.Dir, migDir)
	if err != nil {
		return nil, err
	}
	absMig, _ := filepath.Abs(migDir)
	p.Supabase = filepath.Base(absMig) == "migrations" && filepath.Base(filepath.Dir(absMig)) == "supabase"
	if err := p.readMigrations(migDir, rel, opts.After); err != nil {
		return nil, err
	}
	if len(p.Migrations) == 0 && len(p.Skipped) == 0 {
		return nil, fmt.Errorf("no migration to scaffold in %s: it holds no .sql file; give the directory that holds your migration files (for a Supabase project: supabase/migrations)", migDir)
	}
	if len(p.Migrations) == 0 {
		return nil, fmt.Errorf("no migration to scaffold in %s: no .sql file with a statement in it is left%s", migDir, p.skippedList())
	}
	p.ID = opts.ID
	if p.ID == "" {
		p.ID = defaultID(absMig, p.Supabase)
	}
	if strings.ContainsAny(p.ID, " \t\n") || p.ID == "" {
		return nil, fmt.Errorf("runbook id %q: use letters, digits, \"-\" and \"_\"", p.ID)
	}
	p.Notes = append(p.Notes, orderNotes(p.Migrations)...)
	p.Text = render(p, migDir)
	return p, nil
}

// outPath resolves Options.Out: a .toml path, a directory, or "" for
// the migrations directory's parent.
func outPath(out, migDir string) (path, dir string) {
	switch {
	case out == "":
		dir = filepath.Dir(migDir)
		if abs, err := filepath.Abs(migDir); err == nil && filepath.Base(migDir) == "." {
			dir = filepath.Dir(abs)
		}
	case strings.HasSuffix(out, ".toml"):
		return filepath.Clean(out), filepath.Dir(filepath.Clean(out))
	default:
		dir = filepath.Clean(out)
	}
	return filepath.Join(dir, steps.RunbookFile), dir
}

// relInside returns migDir relative to runbookDir, with / separators, or
// an error when it is not inside it.
func relInside(runbookDir, migDir string) (string, error) {
	a, err1 := filepath.Abs(runbookDir)
	b, err2 := filepath.Abs(migDir)
	if err := errors.Join(err1, err2); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(a, b)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("the runbook must be in %s or a directory above it, not in %s: a runbook names its SQL files by paths inside its own directory", migDir, runbookDir)
	}
	return filepath.ToSlash(rel), nil
}

// supabaseMigration is the Supabase CLI's pattern for a migration file
// name; it skips the others (and so does handrail new in a Supabase
// project, so the runbook runs what supabase db push would).
var supabaseMigration = regexp.MustCompile(`^([0-9]+)_(.*)\.sql$`)

// readMigrations lists migDir in lexical order (byte order of the names,
// as the Supabase CLI and most migration tools apply them) and reads
// every .sql file.
func (p *Plan) readMigrations(migDir, rel, after string) error {
	entries, err := os.ReadDir(migDir) // sorted by file name
	if err != nil {
		return fmt.Errorf("migrations directory: %w", err)
	}
	taken := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			p.Skipped = append(p.Skipped, Skipped{name + "/", "a directory (only the files directly in the migrations directory become steps)"})
			continue
		case !strings.EqualFold(filepath.Ext(name), ".sql"):
			p.Skipped = append(p.Skipped, Skipped{name, "not a .sql file"})
			continue
		case p.Supabase && !supabaseMigration.MatchString(name):
			p.Skipped = append(p.Skipped, Skipped{name, "the Supabase CLI skips it: it applies only files named <version>_<name>.sql " +
				"(digits, an underscore, lower-case .sql); rename it to make it a migration"})
			continue
		case !e.Type().IsRegular() && e.Type()&fs.ModeSymlink == 0:
			p.Skipped = append(p.Skipped, Skipped{name, "not a regular file"})
			continue
		case after != "" && (name <= after || strings.HasPrefix(name, after)):
			p.Skipped = append(p.Skipped, Skipped{name, "at or before --after " + after + " (the target has it already)"})
			continue
		}
		data, err := os.ReadFile(filepath.Join(migDir, name))
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(migDir, name), err)
		}
		m := Migration{Name: name, File: path(rel, name), StepID: uniqueID(stepID(name), taken)}
		// One statement at a time, each classified from one pass over its
		// tokens: a 53 MB migration (1.16M statements) is not held split.
		sqlscan.Each(string(data), func(st sqlscan.Statement) bool {
			m.Statements++
			if m.NoTransaction != "" && m.TransactionControl != "" {
				return true
			}
			r, tc := sqlscan.StatementTransactionFaults(st.SQL)
			if r != "" && m.NoTransaction == "" {
				m.NoTransaction = r
			}
			if tc != "" && m.TransactionControl == "" {
				m.TransactionControl = tc
			}
			return true
		})
		if m.Statements == 0 {
			p.Skipped = append(p.Skipped, Skipped{name, "no SQL statements in it (empty, or only comments)"})
			continue
		}
		p.Migrations = append(p.Migrations, m)
	}
	return nil
}

func path(rel, name string) string {
	if rel == "." {
		return name
	}
	return rel + "/" + name
}

// stepID makes a step id of a file name: its stem, with anything but
// letters, digits, '-' and '_' replaced by '-'.
func stepID(name string) string {
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	id := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, stem)
	if strings.Trim(id, "-") == "" {
		return "migration"
	}
	return id
}

func uniqueID(id string, taken map[string]bool) string {
	out := id
	for n := 2; taken[out] || reservedIDs[out]; n++ {
		out = fmt.Sprintf("%s-%d", id, n)
	}
	taken[out] = true
	return out
}

// reservedIDs are the ids of the scaffold's own steps.
var reservedIDs = map[string]bool{"pre-flight": true, "confirm-target": true, "confirm-backup": true, "smoke-test": true}

// defaultID names the runbook after the project: the directory above
// supabase/ for a Supabase project, else the migrations directory's parent.
func defaultID(absMig string, supabase bool) string {
	dir := filepath.Dir(absMig)
	if supabase {
		dir = filepath.Dir(dir)
	}
	base := strings.ToLower(filepath.Base(dir))
	id := strings.Trim(stepID(base+".x"), "-")
	if id == "" || id == "migration" || base == string(filepath.Separator) {
		return "migrations"
	}
	return id + "-migrations"
}

// orderNotes warns when numbered names sort differently by number than
// lexically (9_x.sql after 10_y.sql): lexical order is what runs.
func orderNotes(ms []Migration) []string {
	widths := map[int]bool{}
	for _, m := range ms {
		n := 0
		for n < len(m.Name) && m.Name[n] >= '0' && m.Name[n] <= '9' {
			n++
		}
		if n > 0 {
			widths[n] = true
		}
	}
	if len(widths) < 2 {
		return nil
	}
	ws := make([]int, 0, len(widths))
	for w := range widths {
		ws = append(ws, w)
	}
	slices.Sort(ws)
	return []string{fmt.Sprintf("the files' numeric prefixes have different widths (%v digits), so lexical order (which the steps follow, as the Supabase CLI does) may differ from numeric order: check the order of the sql steps, or zero-pad the names", ws)}
}

func (p *Plan) skippedList() string {
	if len(p.Skipped) == 0 {
		return ""
	}
	var names []string
	for _, s := range p.Skipped {
		names = append(names, s.Name+": "+s.Why)
	}
	return " (skipped " + strings.Join(names, "; ") + ")"
}

// Write creates the runbook file (and its directory), failing with
// ErrExists rather than overwriting one that appeared meanwhile.
func (p *Plan) Write() error {
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, p.Path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(p.Text); err != nil {
		f.Close()
		os.Remove(p.Path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(p.Path)
		return err
	}
	return nil
}
