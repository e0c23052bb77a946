package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// FormatVersion is the journal format this package writes and reads.
// Format 1 (handrail before format 2) wrote every statement's SQL with
// each event about it; format 2 stores it once per step and refers to it
// by index (listing.go). Both are read and verified; OpenAppend continues
// a journal in its own format.
const FormatVersion = 2

// Header is the first line of a journal: who ran what, where, against what.
type Header struct {
	Format          int    `json:"format"`
	SessionID       string `json:"session_id"`
	RunbookID       string `json:"runbook_id"`
	RunbookHash     string `json:"runbook_hash"`
	HandrailVersion string `json:"handrail_version"`
	Operator        string `json:"operator"`
	Host            string `json:"host"`
	// SSHClient is $SSH_CONNECTION as the session saw it ("client-ip
	// client-port server-ip server-port"); "" outside SSH.
	SSHClient  string `json:"ssh_client,omitempty"`
	TargetName string `json:"target_name"`
	ProjectID  string `json:"project_id"`
	// DSN is the connection string with its password removed.
	DSN         string    `json:"dsn"`
	TermWidth   int       `json:"term_width,omitempty"`
	TermHeight  int       `json:"term_height,omitempty"`
	Started     time.Time `json:"started"`
	Apply       bool      `json:"apply"`
	RunbookPath string    `json:"runbook_path,omitempty"`
	// Environment is "staging" for a run of the runbook's [staging]
	// environment ("" for its [target]).
	Environment string `json:"environment,omitempty"`
	// Plan is the hash of the plan file an unattended `handrail apply`
	// ran ("" for a session at a terminal).
	Plan string `json:"plan,omitempty"`
}

const headerKind = "header"

// headerLine is the header as written: kind first, prev last.
type headerLine struct {
	Kind string `json:"kind"`
	Header
	Prev *string `json:"prev"`
}

// eventLine is an event as written: its fields, then prev. Kind must be
// empty (it is there to reject a second header).
type eventLine struct {
	steps.Event
	// Listing (format 2) holds the event's Statements (see listing).
	Listing *listing `json:"listing,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	Prev    *string  `json:"prev"`
}

// lineHash is the chain hash of one line (without its newline).
func lineHash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// encoder encodes lines into a reusable buffer.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
	// chunk is the length above which a listing line is streamed, and
	// the size of its pieces (lineChunk; tests make it small).
	chunk int
}

func newEncoder() *encoder {
	e := &encoder{chunk: lineChunk}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false) // SQL stays readable: a < b, not a \u003c b
	return e
}

// encode returns v as one line, newline included. The bytes are valid
// until the next call. What encoding/json leaves raw but a terminal acts
// on (C1 controls, DEL, bidi controls) is written as \u escapes, so
// reading a journal with cat, less or tail -f is safe; the values read
// back are the same.
func (e *encoder) encode(v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return termsafe.JSON(e.buf.Bytes()), nil
}

// maxKeptBuffer is the largest encoding buffer kept between events: the
// line of a step of a million statements (100 MB) is not held for the
// session's small events that follow.
const maxKeptBuffer = 1 << 20

// shrink lets go of a buffer grown beyond maxKeptBuffer (the bytes encode
// returned are no longer valid).
func (e *encoder) shrink() {
	if e.buf.Cap() > maxKeptBuffer {
		e.buf = bytes.Buffer{} // enc writes to &e.buf: still this field
	}
}

// VerifyError says where a journal is broken: a line number (1 is the
// header) and why.
type VerifyError struct {
	Line   int
	Reason string
	// NotJournal: the first line is not a journal header at all (the file
	// is something else), rather than a journal that was altered.
	NotJournal bool
	// Changed: a follower found the file itself changed under it
	// (truncated, moved, replaced), rather than a line that fails.
	Changed bool
}

func (e *VerifyError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// FormatError: the journal was written by a newer handrail, in a format
// this one does not read. Nothing is wrong with it.
type FormatError struct {
	Format    int    // the journal's format
	WrittenBy string // the handrail version that wrote it (its header's handrail_version)
}

func (e *FormatError) Error() string {
	by := ""
	if e.WrittenBy != "" {
		by = " (written by handrail " + e.WrittenBy + ")"
	}
	reader := "a handrail that reads it"
	if e.WrittenBy != "" {
		reader = "handrail " + e.WrittenBy + " or newer"
	}
	return fmt.Sprintf("journal format %d%s is newer than this handrail reads (format %d): open it with %s", e.Format, by, FormatVersion, reader)
}

// emptyJournal is the error of a file with no line at all: not a journal
// (nothing was ever written to it), not one that was tampered with.
func emptyJournal() *VerifyError {
	return &VerifyError{Line: 1, Reason: "the file is empty: no journal header", NotJournal: true}
}

func verr(line int, format string, args ...any) *VerifyError {
	return &VerifyError{Line: line, Reason: fmt.Sprintf(format, args...)}
}

// chain checks lines one at a time: the header, then events whose prev
// must be the previous line's hash and whose seq must follow.
type chain struct {
	lines  int // lines accepted
	header Header
	sum    [sha256.Size * 2]byte // hex hash of the last accepted line
	seq    int64                 // seq of the last accepted event
	// stmts (format 2, Read and Follow) resolves statements by index.
	stmts stmtTable
}

// head is the hash of the last accepted line.
func (c *chain) head() string { return string(c.sum[:]) }

// setHead makes line the last accepted line.
func (c *chain) setHead(line []byte) {
	h := sha256.Sum256(line)
	hex.Encode(c.sum[:], h[:])
}

// lineStatus classifies a rejected line.
type lineStatus int

const (
	lineOK lineStatus = iota
	// lineBadJSON: not valid JSON at all, which at the end of the file is
	// a torn tail rather than tampering.
	lineBadJSON
	// lineBrokenPrev: the seq follows but prev does not match: either the
	// previous line was altered or this line's prev was; the next line
	// tells which (see blame).
	lineBrokenPrev
	lineInvalid
)

// accept checks the next line (without its newline) and, when it is an
// event, returns it fully decoded (Read, the follower).
func (c *chain) accept(line []byte) (ev steps.Event, isEvent bool, st lineStatus, err error) {
	if c.lines == 0 {
		st, err := c.acceptHeader(line)
		return ev, false, st, err
	}
	var l eventLine
	if err := json.Unmarshal(line, &l); err != nil {
		st, err := c.decodeError(err)
		return ev, false, st, err
	}
	f := eventFields{Kind: l.Kind, Seq: l.Seq, Type: l.Type}
	f.HasPrev, f.Prev = prevBytes(l.Prev)
	if st, err := c.acceptEvent(line, f); err != nil {
		return ev, false, st, err
	}
	if c.header.Format >= 2 {
		if c.stmts == nil {
			c.stmts = stmtTable{}
		}
		c.stmts.expand(&l.Event, l.Listing)
	}
	return l.Event, true, lineOK, nil
}

// eventFields is what the chain checks of an event line: the rest of the
// line is covered by its hash.
type eventFields struct {
	Kind    string
	HasPrev bool
	Prev    []byte
	Seq     int64
	Type    steps.EventType
}

// prevBytes is a decoded prev for eventFields.
func prevBytes(p *string) (bool, []byte) {
	if p == nil {
		return false, nil
	}
	return true, []byte(*p)
}

// decodeError classifies a line that does not decode: not JSON at all
// (which at the end of the file is a torn tail, see lineBadJSON), or JSON
// whose values do not fit an event (never a crash: a write is torn, not
// rewritten, so that is an edit).
func (c *chain) decodeError(err error) (lineStatus, *VerifyError) {
	n := c.lines + 1
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return lineBadJSON, verr(n, "not valid JSON: %v", jsonReason(err))
	}
	return lineInvalid, verr(n, "not a valid event: %v", err)
}

// acceptHeader checks the first line.
func (c *chain) acceptHeader(line []byte) (lineStatus, error) {
	// The kind and the format first: a newer format may have changed the
	// other fields, and deserves its own message.
	var probe struct {
		Kind            string `json:"kind"`
		Format          int    `json:"format"`
		HandrailVersion string `json:"handrail_version"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return lineBadJSON, &VerifyError{Line: 1, Reason: "the header is not valid JSON: " + jsonReason(err), NotJournal: true}
		}
	}
	if probe.Kind != headerKind {
		return lineInvalid, &VerifyError{Line: 1, NotJournal: true,
			Reason: fmt.Sprintf("the first line is not a journal header (kind %q, want %q)", probe.Kind, headerKind)}
	}
	if probe.Format > FormatVersion {
		return lineInvalid, &FormatError{Format: probe.Format, WrittenBy: probe.HandrailVersion}
	}
	var h headerLine
	if err := json.Unmarshal(line, &h); err != nil {
		return lineInvalid, verr(1, "the header is not a valid journal header: %v", err)
	}
	if h.Prev == nil || *h.Prev != "" {
		return lineInvalid, verr(1, "the header's prev must be empty")
	}
	if h.Format < 1 || h.Format > FormatVersion {
		return lineInvalid, verr(1, "unknown journal format %d", h.Format)
	}
	c.header = h.Header
	c.setHead(line)
	c.lines = 1
	return lineOK, nil
}

// acceptEvent checks a decoded event line against the chain and, when it
// fits, makes it the chain's last line.
func (c *chain) acceptEvent(line []byte, l eventFields) (lineStatus, *VerifyError) {
	n := c.lines + 1
	if l.Kind != "" {
		return lineInvalid, verr(n, "unexpected %q line inside the journal (a second header was inserted?)", l.Kind)
	}
	if l.Type == "" {
		return lineInvalid, verr(n, "event without a type")
	}
	want := c.seq + 1
	if !l.HasPrev {
		return lineInvalid, verr(n, "no prev hash: not a journal line (inserted?)")
	}
	if string(l.Prev) != string(c.sum[:]) {
		switch {
		case l.Seq == want:
			// The seq follows, so nothing is missing: the previous line
			// itself no longer hashes to what this line recorded.
			return lineBrokenPrev, verr(n-1, "altered, or the prev recorded by line %d was: line %d's hash no longer matches it", n, n-1)
		case l.Seq > want:
			return lineInvalid, verr(n, "chain broken: prev does not match line %d and seq jumps from %d to %d (lines deleted or reordered before this line)", n-1, c.seq, l.Seq)
		default:
			return lineInvalid, verr(n, "chain broken: prev does not match line %d and seq %d does not follow %d (a line inserted, duplicated or moved here)", n-1, l.Seq, c.seq)
		}
	}
	if l.Seq != want {
		return lineInvalid, verr(n, "seq %d, want %d (the chain is intact, so this line was forged with its hashes recomputed)", l.Seq, want)
	}
	c.setHead(line)
	c.seq = l.Seq
	c.lines++
	return lineOK, nil
}

// jsonReason shortens a JSON error to what helps find the damage.
func jsonReason(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	return err.Error()
}

// blame refines a lineBrokenPrev verdict for line n (the line whose prev
// does not match line n-1) with the line after it, when there is one: if
// that line's prev matches line n, line n is intact and line n-1 was
// altered; otherwise line n itself was (its prev, and so its hash).
func blame(n int, line, next []byte) *VerifyError {
	var l eventLine
	if json.Unmarshal(next, &l) != nil || l.Prev == nil {
		return verr(n-1, "altered, or the prev recorded by line %d was: line %d's hash no longer matches it", n, n-1)
	}
	if *l.Prev == lineHash(line) {
		return verr(n-1, "altered: its hash no longer matches the prev recorded by line %d", n)
	}
	return verr(n, "altered: its prev does not match line %d, and its hash no longer matches the prev recorded by line %d", n-1, n+1)
}
