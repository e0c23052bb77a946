package lockcheck

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Options says how the analysed statements run.
type Options struct {
	// Transactional: the statements run in one transaction (a sql step with
	// transaction = true), so every lock is held until the last one is done.
	Transactional bool
}

// Analysis is what Analyze found in the statements of one step.
type Analysis struct {
	Transactional bool               `json:"transactional"`
	Statements    StatementLocksList `json:"statements"`
	Findings      []Finding          `json:"findings,omitempty"`
	Allows        []Allow            `json:"allows,omitempty"` // every allow comment, used or not
	Problems      []Problem          `json:"problems,omitempty"`
	Relations     map[string]RelInfo `json:"relations,omitempty"` // filled by Weigh, keyed by Rel.String()
	Weighed       bool               `json:"weighed,omitempty"`

	allowAt map[int][]int   // statement index -> indexes into Allows
	static  *staticAnalysis // Analyze's prediction, kept by the first Weigh
	// weighedOnce: weighed with WeighOptions.Once (no static kept).
	weighedOnce bool
	absent      map[int][]absence // set by Weigh: IF EXISTS objects that are not there
}

// absence is an IF EXISTS object a statement found missing on the target,
// so that it takes no lock on rel (as the statement names it).
type absence struct {
	rel  Rel
	what string // what is missing: the relation, "index i", `policy "p" on s.t`
}

// StatementLocks is the prediction for one statement: its line, and what
// it locks. Neighbouring statements with an equal prediction share one
// Prediction record (a migration of a million inserts into one table
// holds one, not a million: 16 bytes a statement), so a Prediction is
// read-only once Analyze or Weigh stored it: code that changes a
// statement's prediction copies it, changes the copy and stores it
// (Analysis.setPrediction), never writes through the promoted fields.
// Its JSON is one flat object (statementJSON), as before the split.
type StatementLocks struct {
	Line int
	*Prediction
}

// Prediction is what a statement locks, shared by equal neighbours (see
// StatementLocks); samePrediction compares every field.
type Prediction struct {
	// File says where the statement is, with StatementLocks.Line (its
	// text is the caller's: the statement of the same index Analyze was
	// given).
	File string
	// Command is the statement's kind as its leading keywords say it
	// ("ALTER TABLE", "CREATE INDEX", "DO").
	Command string
	Locks   []Lock
	// Unknown, when set, says why the statement's locks cannot be known
	// from its text (a DO block runs code handrail does not read); Locks
	// then lists only what is certain, if anything.
	Unknown string
	// Maybe lists further locks that depend on data or on the catalog
	// (triggers, foreign keys, functions): Weigh resolves what it can.
	Maybe []MaybeLock
	// Creates lists the relations the statement creates: later statements
	// of the step may lock them freely (nobody else can see them before
	// COMMIT).
	Creates []Rel
	// WaitsFor lists, after Weigh, the transactions a CONCURRENTLY command
	// will wait for before it can finish (see ConcurrentWaiters).
	WaitsFor []Session
}

// statementJSON is a StatementLocks as the journal records it (format 2:
// the fields in this order, these names).
type statementJSON struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line"`
	predictionJSON
}

// predictionJSON is the rest of a statement's JSON, after its line.
type predictionJSON struct {
	Command  string      `json:"command"`
	Locks    []Lock      `json:"locks,omitempty"`
	Unknown  string      `json:"unknown,omitempty"`
	Maybe    []MaybeLock `json:"maybe,omitempty"`
	Creates  []Rel       `json:"creates,omitempty"`
	WaitsFor []Session   `json:"waits_for,omitempty"`
}

func (j *statementJSON) prediction() Prediction {
	return Prediction{File: j.File, Command: j.Command, Locks: j.Locks, Unknown: j.Unknown,
		Maybe: j.Maybe, Creates: j.Creates, WaitsFor: j.WaitsFor}
}

// StatementLocksList is the statements of an Analysis. Its JSON is an
// array of statementJSON; a record shared by neighbours is encoded once
// for them all, and reading shares equal neighbours' records again.
type StatementLocksList []StatementLocks

// MarshalJSON writes the list. Its strings are not HTML-escaped here:
// the caller's encoder escapes them, or not (the journal's does not), as
// it does the rest of the line.
func (l StatementLocksList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("null"), nil
	}
	var e statementEncoder
	buf := []byte{'['}
	for i, sl := range l {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = e.append(buf, sl); err != nil {
			return nil, err
		}
		if i == 0 {
			// Room for as many statements like the first (exact for a
			// million equal inserts), rather than doubling up to it.
			buf = slices.Grow(buf, (len(l)-1)*(len(e.head)+len(e.tail)+8)+1)
		}
	}
	return append(buf, ']'), nil
}

// UnmarshalJSON reads what MarshalJSON wrote (and what a journal holds),
// sharing a record among equal neighbours as Analyze does. The flat
// statements read are dropped once shared (no more than the list held
// before the records were shared).
func (l *StatementLocksList) UnmarshalJSON(b []byte) error {
	var flat []statementJSON
	if err := json.Unmarshal(b, &flat); err != nil {
		return err
	}
	if flat == nil {
		*l = nil
		return nil
	}
	out := make(StatementLocksList, len(flat))
	var prev *Prediction
	for i := range flat {
		if p := flat[i].prediction(); prev == nil || !samePrediction(prev, &p) {
			np := p // only a record that is kept is allocated
			prev = &np
		}
		out[i] = StatementLocks{Line: flat[i].Line, Prediction: prev}
	}
	*l = out
	return nil
}

// statementEncoder writes statements as statementJSON, encoding each
// prediction record once while neighbours share it.
type statementEncoder struct {
	enc        *json.Encoder
	b          bytes.Buffer
	last       *Prediction
	head, tail []byte // `{"file":...,"line":` and `,"command":...}` of last
}

func (e *statementEncoder) append(buf []byte, sl StatementLocks) ([]byte, error) {
	if e.enc == nil || sl.Prediction != e.last {
		if err := e.encode(sl.Prediction); err != nil {
			return nil, err
		}
	}
	buf = append(buf, e.head...)
	buf = strconv.AppendInt(buf, int64(sl.Line), 10)
	return append(buf, e.tail...), nil
}

func (e *statementEncoder) encode(p *Prediction) error {
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.b)
		e.enc.SetEscapeHTML(false)
	}
	e.last = p
	if p == nil {
		p = &Prediction{}
	}
	e.head = append(e.head[:0], '{')
	if p.File != "" {
		e.b.Reset()
		if err := e.enc.Encode(p.File); err != nil {
			return err
		}
		e.head = append(e.head, `"file":`...)
		e.head = append(e.head, bytes.TrimSuffix(e.b.Bytes(), []byte("\n"))...)
		e.head = append(e.head, ',')
	}
	e.head = append(e.head, `"line":`...)
	e.b.Reset()
	if err := e.enc.Encode(predictionJSON{Command: p.Command, Locks: p.Locks, Unknown: p.Unknown,
		Maybe: p.Maybe, Creates: p.Creates, WaitsFor: p.WaitsFor}); err != nil {
		return err
	}
	tail := bytes.TrimSuffix(e.b.Bytes(), []byte("\n")) // {"command":...}
	e.tail = append(append(e.tail[:0], ','), tail[1:]...)
	return nil
}

// MarshalJSON writes the statement as statementJSON (see
// StatementLocksList.MarshalJSON).
func (sl StatementLocks) MarshalJSON() ([]byte, error) {
	var e statementEncoder
	return e.append(nil, sl)
}

// UnmarshalJSON reads what MarshalJSON wrote, into a record of its own.
func (sl *StatementLocks) UnmarshalJSON(b []byte) error {
	var j statementJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	p := j.prediction()
	sl.Line, sl.Prediction = j.Line, &p
	return nil
}

// Where returns "file:line" (or "line N" without a file) for messages.
func (sl *StatementLocks) Where() string {
	return sqlscan.Statement{File: sl.File, Line: sl.Line}.Where()
}

// Lock is one predicted table-level lock.
type Lock struct {
	Rel  Rel  `json:"rel"`
	Mode Mode `json:"mode"`
	// OnTableOf: Rel names an index and the lock is on the table it
	// belongs to (Weigh resolves which).
	OnTableOf bool `json:"on_table_of,omitempty"`
	// Children: the same lock is taken on every partition or inheritance
	// child (the command recurses); Weigh lists them.
	Children bool `json:"children,omitempty"`
	// Rewrite: the table gets a new data file, rewritten row by row (or
	// emptied, for TRUNCATE), while the lock is held.
	Rewrite Tri `json:"rewrite"`
	// Scan: every row is read while the lock is held (validating a
	// constraint, building an index), without a rewrite.
	Scan Tri `json:"scan"`
	// Truncate: the rewrite is TRUNCATE's new empty file (fast; the data is
	// gone, not copied).
	Truncate bool `json:"truncate,omitempty"`
	// Why names the clauses that need this mode; Note says why Rewrite or
	// Scan is Unknown, or how Weigh settled it.
	Why  string `json:"why"`
	Note string `json:"note,omitempty"`
	// New: the relation was created earlier in the same step (so the lock
	// bothers nobody).
	New bool `json:"new,omitempty"`
	// Partition: Weigh added this lock for a partition or child of a
	// relation the statement names.
	Partition bool `json:"partition,omitempty"`
	// Waits lists, after Weigh, the sessions holding (or queued for) a
	// lock that conflicts with this one: the request would wait for them.
	Waits []Session `json:"waits,omitempty"`

	checks    []check // what Weigh must look up to settle Rewrite or Scan
	noScan    bool    // a rewrite that copies files rather than reading rows (SET TABLESPACE)
	index     bool    // the lock on an index itself (DROP INDEX, REINDEX INDEX)
	fromIndex Rel     // after Weigh: the index an OnTableOf lock was resolved from
}

// MaybeLock is a lock that depends on data or the catalog.
type MaybeLock struct {
	Rel  Rel    `json:"rel,omitzero"` // zero: relations not known from the text
	Mode Mode   `json:"mode,omitempty"`
	Why  string `json:"why"`

	live bool // Weigh replaces it with what the catalog says
}

// Finding is a hazard: a rule that fired on a statement.
type Finding struct {
	Rule      string `json:"rule"`
	Statement int    `json:"statement"` // index into Analysis.Statements
	File      string `json:"file,omitempty"`
	Line      int    `json:"line"`
	Rel       Rel    `json:"rel,omitzero"`
	Why       string `json:"why"`
	Safer     string `json:"safer"`
	// Conditional: whether the hazard applies depends on the catalog (a
	// default's volatility, a type change's coercibility, a NOT NULL proof);
	// Weigh settles it.
	Conditional bool `json:"conditional,omitempty"`
	// Allowed is the allow comment that accepted this finding, if any.
	Allowed *Allow `json:"allowed,omitempty"`
	// Weight is set by Weigh.
	Weight *Weight `json:"weight,omitempty"`

	applies int8   // set by Weigh for a Conditional finding: 1 it applies, -1 it does not
	settled string // what the catalog said
	base    Level  // the level a finding has whatever the sizes (0: from the sizes)
}

// Where returns "file:line" for messages.
func (f Finding) Where() string {
	return sqlscan.Statement{File: f.File, Line: f.Line}.Where()
}

// Allow is a "handrail:allow RULE reason" comment.
type Allow struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line"`
	Used   bool   `json:"used"`
}

// Problem is a mistake in an allow comment (unknown rule, no reason, or
// accepting nothing), for lint.
type Problem struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line"`
	// Error: lint fails (a malformed allow); otherwise a warning (an allow
	// that accepts nothing).
	Error bool   `json:"error"`
	Msg   string `json:"msg"`
	Hint  string `json:"hint,omitempty"`
}

// Level grades a weighed finding.
type Level int8

// The levels, least to most severe. None: the live check showed that the
// hazard does not apply.
const (
	None Level = iota
	Low
	Medium
	High
)

func (l Level) String() string {
	switch l {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return "none"
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (l *Level) UnmarshalText(b []byte) error {
	for _, v := range []Level{None, Low, Medium, High} {
		if v.String() == string(b) {
			*l = v
			return nil
		}
	}
	*l = Medium
	return nil
}

// Weight is a finding's severity on the live target and why.
type Weight struct {
	Level   Level    `json:"level"`
	Reasons []string `json:"reasons"`
	// Waits lists the sessions the statement's lock request would queue
	// behind now.
	Waits []Session `json:"waits,omitempty"`
}

// RelInfo is what Weigh found out about one relation.
type RelInfo struct {
	Rel      Rel     `json:"rel"`
	Exists   bool    `json:"exists"`
	Kind     string  `json:"kind,omitempty"` // table, partitioned table, index, view, materialized view, ...
	Rows     float64 `json:"rows"`           // pg_class.reltuples (summed over partitions); -1: never analysed
	Bytes    int64   `json:"bytes"`          // pg_total_relation_size (summed over partitions)
	Children []Rel   `json:"children,omitempty"`
	// Holders are sessions holding or waiting for a lock on it now.
	Holders []Session `json:"holders,omitempty"`
}
