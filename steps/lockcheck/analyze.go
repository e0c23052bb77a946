package lockcheck

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Analyze predicts the locks of each statement of one step and applies
// the rules. The statements are those of one step, in order; o says
// whether they run in one transaction. Relations the step creates are
// new: locking them bothers nobody, so rules about existing tables skip
// them. Analyze never fails: what it cannot read is Unknown.
func Analyze(stmts []sqlscan.Statement, o Options) *Analysis {
	return AnalyzeSeq(slices.All(stmts), len(stmts), o)
}

// AnalyzeSeq is Analyze of the n statements stmts yields in order (index
// 0 to n-1): a caller that keeps its statements in another form (a
// step's StatementList) does not make a []sqlscan.Statement of them.
func AnalyzeSeq(stmts iter.Seq2[int, sqlscan.Statement], n int, o Options) *Analysis {
	a := &analyzer{
		res:      &Analysis{Transactional: o.Transactional, Statements: make([]StatementLocks, 0, n)},
		created:  map[string]bool{},
		notValid: map[string]int{},
		aeByName: map[string][]string{},

		createdNames: map[string]bool{},
		upper:        map[string]string{},
		dmlWhys:      map[Rel]string{},

		notNullProved:     map[string]bool{},
		notNullCheckNames: map[string]string{},
		comments:          map[int]stmtComments{},
		prevEnd:           -1,
	}
	for i, st := range stmts {
		a.statement(i, st)
	}
	if o.Transactional {
		a.lockHeldUntilCommit()
	}
	a.applyAllows()
	return a.res
}

// analyzer is the state of one Analyze call.
type analyzer struct {
	res *Analysis
	// created holds the relations created so far in the step (Rel.key).
	created map[string]bool
	// notValid holds constraints added NOT VALID so far in this
	// transaction ("table key\x00constraint"), with the statement index.
	notValid map[string]int
	// aeOrder is, per relation, the first statement taking ACCESS
	// EXCLUSIVE on it (for lock-held-until-commit), in statement order.
	aeOrder  []aeLock
	aeByName map[string][]string // name -> schemas, of aeOrder
	// createdNames holds the names of created relations, any schema.
	createdNames map[string]bool
	// upper caches upper-cased words (names repeat through a migration).
	upper map[string]string
	// dmlWhys caches the Why of a DML statement's live Maybe per target:
	// a migration of a million inserts into one table shares one string.
	dmlWhys map[Rel]string
	tokBuf  []tok
	// scratch is the prediction of the statement being analysed (keep).
	scratch Prediction
	// notNullProved holds "table key\x00column" for columns a CHECK (col IS
	// NOT NULL) added or validated earlier in the step proves NOT NULL;
	// notNullCheckNames maps such NOT VALID checks to their column.
	notNullProved     map[string]bool
	notNullCheckNames map[string]string
	// comments of each statement that has any, for allow comments (a
	// million inserts without a comment keep nothing here).
	comments map[int]stmtComments
	// prevEnd and prevFile: the line the statement analysed last ends
	// on, and its file (for an allow comment on that line).
	prevEnd  int
	prevFile string
}

// stmtComments are a statement's comments, with the offset of its first
// significant token, its text, and where the statement before it ended
// (the line and file of its last token; -1 and "" for the first).
type stmtComments struct {
	first    int
	list     []comment
	sql      string
	prevEnd  int
	prevFile string
}

// aeLock is a relation some statement takes ACCESS EXCLUSIVE on; ofIndex:
// on the table of the index rel names.
type aeLock struct {
	rel     Rel
	ofIndex bool
	stmt    int // the statement that takes it first
}

// stmt is the context of the statement being analysed.
type stmt struct {
	a    *analyzer
	idx  int
	line int
	// p is the statement's prediction as it is built: the analyzer's
	// scratch record, which keep copies (or shares) when it is done.
	p    *Prediction
	toks []tok
	// locks are built here (pointers stay valid while clauses add more)
	// and copied into p.Locks when the statement is done.
	locks *[]*Lock
}

func (a *analyzer) statement(i int, st sqlscan.Statement) {
	toks, comments := lexStatement(st.SQL, a.upper, a.tokBuf)
	a.tokBuf = toks
	// The statement is built in the scratch record (its lists reuse the
	// last statement's arrays) and stored by keep; meanwhile its entry
	// points at the scratch, so that it reads as any other.
	p := &a.scratch
	*p = Prediction{File: st.File, Locks: p.Locks[:0], Maybe: p.Maybe[:0], Creates: p.Creates[:0]}
	a.res.Statements = append(a.res.Statements, StatementLocks{Line: st.Line, Prediction: p})
	defer a.keep()
	first := 0 // a statement without comments starts with its first token
	if len(comments) > 0 {
		first = len(st.SQL)
		if len(toks) > 0 {
			first = toks[0].off
		}
		a.comments[i] = stmtComments{first: first, list: comments, sql: st.SQL, prevEnd: a.prevEnd, prevFile: a.prevFile}
	}
	a.prevEnd = st.Line + strings.Count(st.SQL[min(first, len(st.SQL)):], "\n")
	a.prevFile = st.File
	if !a.res.Transactional {
		// Each statement commits on its own: a NOT VALID constraint of an
		// earlier statement is no longer held under its lock.
		clear(a.notValid)
	}
	s := &stmt{a: a, idx: i, line: st.Line, p: p, toks: toks, locks: new([]*Lock)}
	if len(toks) == 0 {
		p.Command = "(empty)"
		return
	}
	classify(s)
	for _, l := range *s.locks {
		if l.Rewrite == Yes && !l.Truncate && !l.noScan {
			l.Scan = Yes // a rewrite reads every row
		}
		p.Locks = append(p.Locks, *l)
	}
	for k := range p.Locks {
		l := &p.Locks[k]
		if !l.OnTableOf && a.isCreated(l.Rel) {
			l.New = true
		}
		// The lock a DROP INDEX takes that matters is on the index's table.
		if l.Mode == AccessExclusive && !l.New && !l.index && !a.aeSeen(l.Rel) {
			a.aeOrder = append(a.aeOrder, aeLock{rel: l.Rel, ofIndex: l.OnTableOf, stmt: i})
			a.aeByName[l.Rel.Name] = append(a.aeByName[l.Rel.Name], l.Rel.Schema)
		}
	}
	for _, r := range p.Creates {
		a.created[r.key()] = true
		a.createdNames[r.Name] = true
	}
}

// keep stores the prediction of the statement analysed last, built in
// the scratch record: the previous statement's when they are equal (a
// migration of a million inserts into one table holds one prediction,
// not a million), else a copy whose lists are the previous statement's
// where equal and clipped otherwise. Nothing changes a stored prediction
// afterwards (Weigh stores new ones).
func (a *analyzer) keep() {
	i := len(a.res.Statements) - 1
	var prev *Prediction
	if i > 0 {
		prev = a.res.Statements[i-1].Prediction
	}
	a.res.Statements[i].Prediction = stored(prev, &a.scratch)
}

// stored returns the record to store for prediction p (which the caller
// goes on to reuse or drop) after prev: prev itself when equal, else a
// new record with p's fields, each list prev's when equal (no record or
// list is changed in place once stored) or a copy of p's, clipped.
func stored(prev, p *Prediction) *Prediction {
	if prev != nil && samePrediction(prev, p) {
		return prev
	}
	if prev == nil {
		prev = &Prediction{}
	}
	n := *p
	n.Locks = sharedList(prev.Locks, p.Locks, sameLock)
	n.Maybe = sharedList(prev.Maybe, p.Maybe, func(x, y MaybeLock) bool { return x == y })
	n.Creates = sharedList(prev.Creates, p.Creates, func(x, y Rel) bool { return x == y })
	n.WaitsFor = sharedList(prev.WaitsFor, p.WaitsFor, func(x, y Session) bool { return x == y })
	if storedHook != nil {
		storedHook(&n)
	}
	return &n
}

// storedHook, set by tests, sees each prediction record as it is stored:
// none may change afterwards.
var storedHook func(*Prediction)

// sharedList is prev when it equals l, else a copy of l (nil when empty).
func sharedList[E any](prev, l []E, eq func(E, E) bool) []E {
	switch {
	case len(l) == 0:
		return nil
	case slices.EqualFunc(prev, l, eq):
		return prev
	}
	return slices.Clone(l)
}

// samePrediction reports whether x and y are equal in every field
// (predictionFields in the tests keeps this list complete).
func samePrediction(x, y *Prediction) bool {
	if x == y {
		return true
	}
	return x.File == y.File && x.Command == y.Command && x.Unknown == y.Unknown &&
		slices.EqualFunc(x.Locks, y.Locks, sameLock) && slices.Equal(x.Maybe, y.Maybe) &&
		slices.Equal(x.Creates, y.Creates) && slices.Equal(x.WaitsFor, y.WaitsFor)
}

// sameLock reports whether two predicted locks are equal in every field
// (lockFields in the tests keeps this list complete).
func sameLock(x, y Lock) bool {
	return x.Rel == y.Rel && x.Mode == y.Mode && x.OnTableOf == y.OnTableOf && x.Children == y.Children &&
		x.Rewrite == y.Rewrite && x.Scan == y.Scan && x.Truncate == y.Truncate && x.Why == y.Why &&
		x.Note == y.Note && x.New == y.New && x.Partition == y.Partition && slices.Equal(x.Waits, y.Waits) &&
		slices.EqualFunc(x.checks, y.checks, sameCheck) && x.noScan == y.noScan && x.index == y.index && x.fromIndex == y.fromIndex
}

func sameCheck(x, y check) bool {
	return x.kind == y.kind && x.verb == y.verb && x.col == y.col && x.typ == y.typ && slices.Equal(x.funcs, y.funcs) &&
		x.name == y.name && x.rel == y.rel && x.mode == y.mode && x.finding == y.finding
}

// aeSeen reports whether an earlier statement took ACCESS EXCLUSIVE on r
// (written with or without its schema).
func (a *analyzer) aeSeen(r Rel) bool {
	for _, schema := range a.aeByName[r.Name] {
		if schema == r.Schema || schema == "" || r.Schema == "" {
			return true
		}
	}
	return false
}

// isCreated reports whether r was created earlier in the step. An
// unqualified name matches a qualified one of the same name (the step is
// assumed not to juggle search_path).
func (a *analyzer) isCreated(r Rel) bool {
	if a.created[r.key()] {
		return true
	}
	if r.Schema != "" {
		return a.created[Rel{Name: r.Name}.key()]
	}
	return a.createdNames[r.Name]
}

// lock adds (or strengthens) the statement's lock on r and returns it.
// Clauses of one statement on the same relation merge: the strongest
// mode, rewrite and scan if any clause rewrites or scans.
func (s *stmt) lock(r Rel, m Mode, why string) *Lock {
	for _, l := range *s.locks {
		if l.Rel == r && !l.OnTableOf {
			if m > l.Mode {
				l.Mode = m
			}
			if why != "" && !strings.Contains(l.Why, why) {
				l.Why += ", " + why
			}
			return l
		}
	}
	l := &Lock{Rel: r, Mode: m, Why: why}
	*s.locks = append(*s.locks, l)
	return l
}

// lockTableOf adds a lock on the table the index idx belongs to (Weigh
// resolves which).
func (s *stmt) lockTableOf(idx Rel, m Mode, why string) *Lock {
	l := &Lock{Rel: idx, Mode: m, OnTableOf: true, Why: why}
	*s.locks = append(*s.locks, l)
	return l
}

// read records ACCESS SHARE on relations a query reads (a stronger lock
// already held by the statement covers it).
func (s *stmt) read(r Rel) {
	if r.system() {
		return
	}
	for _, l := range *s.locks {
		if l.Rel == r && !l.OnTableOf {
			return
		}
	}
	*s.locks = append(*s.locks, &Lock{Rel: r, Mode: AccessShare, Why: "read"})
}

func (s *stmt) unknown(format string, args ...any) {
	if s.p.Unknown == "" {
		s.p.Unknown = fmt.Sprintf(format, args...)
	}
}

func (s *stmt) maybe(r Rel, m Mode, why string) { s.addMaybe(MaybeLock{Rel: r, Mode: m, Why: why}) }

// dmlWhy is the Why of the live Maybe of rows changed in target (cached).
func (a *analyzer) dmlWhy(target Rel) string {
	why, ok := a.dmlWhys[target]
	if !ok {
		why = fmt.Sprintf("foreign keys and triggers of %s, when rows change (looked up live)", target)
		a.dmlWhys[target] = why
	}
	return why
}

// maybeLive records a Maybe that Weigh settles from the catalog.
func (s *stmt) maybeLive(m Mode, why string) { s.addMaybe(MaybeLock{Mode: m, Why: why, live: true}) }

func (s *stmt) addMaybe(ml MaybeLock) {
	for _, x := range s.p.Maybe {
		if x.Rel == ml.Rel && x.Why == ml.Why {
			return
		}
	}
	s.p.Maybe = append(s.p.Maybe, ml)
}

func (s *stmt) creates(r Rel) { s.p.Creates = append(s.p.Creates, r) }

// isNew reports whether r was created earlier in this step or by this
// statement.
func (s *stmt) isNew(r Rel) bool {
	if s.a.isCreated(r) {
		return true
	}
	for _, c := range s.p.Creates {
		if c == r || (c.Name == r.Name && (c.Schema == "" || r.Schema == "")) {
			return true
		}
	}
	return false
}

// find records a finding of rule on the statement and returns its index
// in Analysis.Findings, or -1: findings about a relation the step created
// are dropped (nobody else can see it yet).
func (s *stmt) find(rule string, r Rel, conditional bool, why string) int {
	if !r.IsZero() && s.isNew(r) {
		return -1
	}
	ru := rulesByID[rule]
	s.a.res.Findings = append(s.a.res.Findings, Finding{
		Rule: rule, Statement: s.idx, File: s.p.File, Line: s.line, Rel: r,
		Why: why, Safer: ru.Safer, Conditional: conditional,
	})
	return len(s.a.res.Findings) - 1
}

// lockHeldUntilCommit: in a transactional step, an ACCESS EXCLUSIVE lock
// on an existing relation is held through every later statement. One
// finding per relation, on the statement that first takes it.
func (a *analyzer) lockHeldUntilCommit() {
	if len(a.aeOrder) == 0 {
		return
	}
	n := len(a.res.Statements)
	// The statements after statement i: the step's statements that are
	// not empty, less those up to i (counted as i grows along aeOrder,
	// which is in statement order; no count per statement is kept).
	stated := func(k int) bool { return a.res.Statements[k].Command != "(empty)" }
	total := 0
	for k := range n {
		if stated(k) {
			total++
		}
	}
	upTo, next := 0, 0 // upTo counts the statements before next
	for _, ae := range a.aeOrder {
		r := ae.rel
		i := ae.stmt
		for ; next <= i; next++ {
			if stated(next) {
				upTo++
			}
		}
		after := total - upTo
		if after == 0 {
			continue
		}
		last := a.res.Statements[n-1]
		st := &a.res.Statements[i]
		s := &stmt{a: a, idx: i, line: st.Line, p: st.Prediction}
		on := r.String()
		if ae.ofIndex {
			on = "the table of index " + on
		}
		s.find(RuleLockHeldUntilCommit, r, false, fmt.Sprintf(
			"%s takes ACCESS EXCLUSIVE on %s, and the step runs in one transaction: the lock is held until COMMIT, through the %d statement%s after it (to %s), while every read and write of it waits",
			st.Command, on, after, plural(after), last.Where()))
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
