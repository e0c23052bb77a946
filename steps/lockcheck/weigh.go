package lockcheck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Querier is what Weigh needs of a connection: *pgx.Conn and pgx.Tx
// satisfy it. Weigh only reads the catalog and the statistics views; run
// it in a READ ONLY transaction (db.Target.Inspect does) so that nothing
// it sends can write.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Session is another backend holding or waiting for a lock, or a
// transaction a CONCURRENTLY build waits for.
type Session struct {
	PID             int           `json:"pid"`
	State           string        `json:"state"`
	ApplicationName string        `json:"application_name,omitempty"`
	User            string        `json:"user,omitempty"`
	Query           string        `json:"query,omitempty"`
	XactAge         time.Duration `json:"xact_age"`  // since its transaction began
	StateAge        time.Duration `json:"state_age"` // since its state last changed
	Rel             Rel           `json:"rel,omitzero"`
	Mode            Mode          `json:"mode,omitempty"`
	Granted         bool          `json:"granted"`
}

// Describe says who the session is and what it does, on one line
// (the query cut to 80 bytes; callers escape it before it reaches a
// terminal).
func (s Session) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pid %d", s.PID)
	if s.ApplicationName != "" {
		fmt.Fprintf(&b, " (%s", s.ApplicationName)
		if s.User != "" {
			fmt.Fprintf(&b, ", %s", s.User)
		}
		b.WriteString(")")
	}
	switch {
	case s.State == "idle in transaction" || s.State == "idle in transaction (aborted)":
		fmt.Fprintf(&b, " %s for %s", s.State, roundDur(s.StateAge))
	case s.XactAge > 0:
		fmt.Fprintf(&b, " %s, in a transaction for %s", s.State, roundDur(s.XactAge))
	case s.State != "":
		fmt.Fprintf(&b, " %s", s.State)
	}
	if s.Mode != NoLock {
		verb := "holding"
		if !s.Granted {
			verb = "waiting for"
		}
		fmt.Fprintf(&b, ", %s %s on %s", verb, s.Mode, s.Rel)
	}
	if q := strings.Join(strings.Fields(s.Query), " "); q != "" {
		if len(q) > 80 {
			q = q[:77] + "..."
		}
		fmt.Fprintf(&b, ": %s", q)
	}
	return b.String()
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Hour:
		return d.Round(time.Minute)
	case d >= time.Minute:
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// WeighOptions tunes Weigh.
type WeighOptions struct {
	// IgnorePIDs are handrail's own backends (its deploy-lock and side
	// connections): they never make the statement wait.
	IgnorePIDs []int
	// LongTransaction is the age from which a transaction that holds a
	// conflicting lock is reported as one that will not end soon (default
	// one minute).
	LongTransaction time.Duration
	// LockTimeout is the step's lock_timeout, named in the reasons.
	LockTimeout time.Duration
	// Once: each analysis is weighed this once. Weigh keeps no copy of
	// Analyze's prediction for a later Weigh (the analysis of a step of a
	// million statements is not held twice); a later Weigh of it fails.
	Once bool
}

func (o WeighOptions) long() time.Duration {
	if o.LongTransaction > 0 {
		return o.LongTransaction
	}
	return time.Minute
}

// Weigh completes each analysis with what the target database says: it
// resolves the relations (size, partitions, the table of an index),
// settles what Analyze left Unknown (a default's volatility, a type
// change's coercibility, a NOT NULL proof, foreign keys), lists the
// sessions each lock request would queue behind, and gives every finding
// a Weight. It may add findings (a rewrite only the catalog reveals; a
// lock that would queue behind a long transaction). It only reads.
func Weigh(ctx context.Context, q Querier, o WeighOptions, analyses ...*Analysis) error {
	w := &weigher{q: q, o: o, rels: map[Rel]*relFacts{}}
	for _, an := range analyses {
		if err := w.weigh(ctx, an); err != nil {
			return err
		}
	}
	return nil
}

type weigher struct {
	q    Querier
	o    WeighOptions
	rels map[Rel]*relFacts
	noTx bool // not in a transaction: no savepoints
}

func (w *weigher) weigh(ctx context.Context, an *Analysis) error {
	switch {
	case an.weighedOnce:
		return errors.New("this lock analysis was weighed once (WeighOptions.Once) and cannot be weighed again: analyse the statements again")
	case w.o.Once && an.static == nil:
		an.weighedOnce = true
	default:
		an.restoreStatic()
	}
	an.Relations = map[string]RelInfo{}
	for i := range an.Statements {
		if err := w.expandStatement(ctx, an, i); err != nil {
			return err
		}
	}
	for i := range an.Statements {
		if err := w.queue(ctx, an, i); err != nil {
			return err
		}
	}
	for i := range an.Findings {
		if err := w.weighFinding(ctx, an, i); err != nil {
			return err
		}
	}
	an.matchAllows()
	an.Weighed = true
	return nil
}

// restoreStatic makes weighing repeatable: the first Weigh keeps what
// Analyze predicted, a later one starts again from it (the target may
// have changed in between: the engine weighs before each step). Weigh
// never changes a prediction record in place (it stores new ones), so
// what is kept is the list of references: 16 bytes a statement.
func (an *Analysis) restoreStatic() {
	if an.static == nil {
		an.static = &staticAnalysis{statements: slices.Clone(an.Statements), findings: slices.Clone(an.Findings)}
		return
	}
	an.Statements = slices.Clone(an.static.statements)
	an.Findings = slices.Clone(an.static.findings)
	an.absent = nil
}

// staticAnalysis is what Analyze predicted, before any Weigh.
type staticAnalysis struct {
	statements []StatementLocks
	findings   []Finding
}

// expandStatement resolves the statement's locks against the catalog.
func (w *weigher) expandStatement(ctx context.Context, an *Analysis, i int) error {
	sl := an.Statements[i].Prediction // read-only: the result is a new record
	var locks []Lock
	var maybes []MaybeLock
	for _, ml := range sl.Maybe {
		if !ml.live {
			maybes = append(maybes, ml)
		}
	}
	for _, l := range sl.Locks {
		if l.OnTableOf {
			t, err := w.tableOfIndex(ctx, l.Rel)
			if err != nil {
				return err
			}
			if t.IsZero() && slices.ContainsFunc(l.checks, func(c check) bool { return c.kind == ckIfExists }) {
				an.markAbsent(i, l.Rel, "index "+l.Rel.String()) // IF EXISTS, and there is no such index: no lock
				continue
			}
			if t.IsZero() {
				l.Note = joinNote(l.Note, fmt.Sprintf("index %s not found on the target", l.Rel))
				locks = append(locks, l)
				continue
			}
			l.Rel, l.OnTableOf, l.fromIndex = t, false, l.Rel
		}
		f, err := w.rel(ctx, l.Rel)
		if err != nil {
			return err
		}
		named := l.Rel // as the statement (and its findings) name it
		if f.exists {
			l.Rel = f.rel
		}
		an.Relations[l.Rel.String()] = f.info()
		if !f.exists && slices.ContainsFunc(l.checks, func(c check) bool { return c.kind == ckIfExists }) {
			what := l.Rel.String()
			if l.index {
				what = "index " + what
			}
			an.markAbsent(i, named, what)
			continue
		}
		if k := slices.IndexFunc(l.checks, func(c check) bool { return c.kind == ckObjectExists }); k >= 0 && f.exists {
			c := l.checks[k]
			ok, err := w.objectExists(ctx, f, c)
			if err != nil {
				return err
			}
			if !ok { // IF EXISTS and there is none: no lock at all; the table is there
				an.markAbsent(i, named, fmt.Sprintf("%s %s on %s", strings.ToLower(c.verb), quoteIdent(c.name), l.Rel))
				continue
			}
		}
		extra, more, err := w.settle(ctx, an, i, &l, f)
		if err != nil {
			return err
		}
		maybes = append(maybes, more...)
		parent := l
		if f.kind == 'p' {
			// No storage of its own: nothing to rewrite or scan on the parent.
			if l.Rewrite == Yes && !l.Truncate {
				parent.Note = joinNote(parent.Note, "a partitioned table has no data of its own: its partitions are rewritten")
			}
			parent.Rewrite, parent.Scan = No, No
		}
		locks = append(locks, parent)
		if !l.Children && l.Mode <= RowExclusive && f.exists {
			for _, c := range f.children {
				maybes = append(maybes, MaybeLock{Rel: c, Mode: l.Mode, Why: "partition or child: locked unless pruned"})
			}
		}
		if l.Children && f.exists {
			for _, c := range f.children {
				cf, err := w.rel(ctx, c)
				if err != nil {
					return err
				}
				an.Relations[c.String()] = cf.info()
				cl := Lock{Rel: c, Mode: l.Mode, Rewrite: l.Rewrite, Scan: l.Scan, Truncate: l.Truncate,
					Why: l.Why, Note: l.Note, Partition: true}
				if cf.kind == 'p' {
					cl.Rewrite, cl.Scan = No, No
				}
				locks = append(locks, cl)
			}
		}
		locks = append(locks, extra...)
	}
	p := *sl
	p.Locks, p.Maybe = mergeLocks(locks), maybes
	an.setPrediction(i, p)
	return nil
}

// setPrediction makes p statement i's prediction: statement i-1's record
// when they are equal, as Analyze shares its prediction (a million
// inserts into one table hold one record, not a million), the record it
// has when p equals it, else a new one. No record is changed in place:
// neighbours may share it, and a later Weigh starts again from
// Analyze's.
func (an *Analysis) setPrediction(i int, p Prediction) {
	var prev *Prediction
	if i > 0 {
		prev = an.Statements[i-1].Prediction
	}
	switch cur := an.Statements[i].Prediction; {
	case prev != nil && samePrediction(prev, &p):
		an.Statements[i].Prediction = prev
	case cur != nil && samePrediction(cur, &p):
	default:
		an.Statements[i].Prediction = stored(prev, &p)
	}
}

// mergeLocks keeps one lock per relation (the strongest).
func mergeLocks(locks []Lock) []Lock {
	var out []Lock
	for _, l := range locks {
		k := slices.IndexFunc(out, func(o Lock) bool { return o.Rel == l.Rel && !o.OnTableOf && !l.OnTableOf })
		if k < 0 {
			out = append(out, l)
			continue
		}
		o := &out[k]
		if l.Mode > o.Mode {
			o.Mode = l.Mode
		}
		o.Rewrite, o.Scan = o.Rewrite.or(l.Rewrite), o.Scan.or(l.Scan)
		o.Truncate = o.Truncate || l.Truncate
		o.Why = joinNote(o.Why, l.Why)
		o.Note = joinNote(o.Note, l.Note)
		o.Partition = o.Partition && l.Partition
	}
	return out
}

// markAbsent records that statement i takes no lock on r (as it names
// it): the IF EXISTS object, what, is not there, so the statement does
// nothing.
func (an *Analysis) markAbsent(i int, r Rel, what string) {
	if an.absent == nil {
		an.absent = map[int][]absence{}
	}
	an.absent[i] = append(an.absent[i], absence{rel: r, what: what})
}
