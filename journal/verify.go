package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/handrail-dev/handrail/internal/termsafe"
	"github.com/handrail-dev/handrail/steps"
)

// KnownType reports whether t is an event type this handrail knows
// (steps.EventTypes is the one declaration of the set).
func KnownType(t steps.EventType) bool { return t.Known() }

// Report is the result of Verify.
type Report struct {
	// Status is the verdict in one word; ExitCode maps it to handrail
	// verify's exit code.
	Status VerifyStatus
	// OK: the journal is intact and well formed. An unended session is
	// OK (incomplete, not tampered); Status and the verdict say so.
	OK bool
	// Head is the hash of the last good line ("" when the chain is broken).
	Head   string
	Lines  int // good lines, the header included
	Events int
	// Ended: the session's last lifecycle event is session_ended, with
	// Outcome.
	Ended    bool
	Outcome  steps.Outcome
	TornTail bool
	TornLine int
	// Problems lists what is wrong, each naming its line: the first
	// maxProblems of them; MoreProblems counts the rest.
	Problems     []string
	MoreProblems int
	// Verdict is one line for a human.
	Verdict string
	// ApprovalRequired is how many approvals each write needed (the most
	// any run of the session asked: a resume never lowers it; 0: none); ApprovedWrites counts the writes
	// checked, and Approvals lists each write with its approvers (the
	// first ones; MoreApprovals counts the rest).
	ApprovalRequired int
	ApprovedWrites   int
	Approvals        []string
	MoreApprovals    int
}

// VerifyStatus is what Verify found, in one word.
type VerifyStatus int

const (
	// Complete: intact, and the session ended.
	Complete VerifyStatus = iota
	// Incomplete: intact so far, but the session did not end: it is still
	// running, or its handrail crashed or was killed (resumable).
	Incomplete
	// Damaged: altered or damaged: the chain or the structure is broken.
	Damaged
	// Unchecked: the journal could not be checked: it cannot be read, or
	// it was written by a newer handrail in a format this one does not read.
	Unchecked
)

// Exit codes of handrail verify, one per VerifyStatus.
const (
	ExitComplete   = 0
	ExitDamaged    = 1
	ExitUnchecked  = 2 // also a usage error
	ExitIncomplete = 3
)

// ExitCode is handrail verify's exit code for s.
func (s VerifyStatus) ExitCode() int {
	switch s {
	case Complete:
		return ExitComplete
	case Incomplete:
		return ExitIncomplete
	case Damaged:
		return ExitDamaged
	}
	return ExitUnchecked
}

// VerifyExitCodes documents the exit codes for handrail verify --help.
const VerifyExitCodes = `Exit codes:
  0  intact and complete: the chain holds and the session ended
  1  damaged: altered, cut inside, or not well formed (the line is named)
  2  not checked: the file cannot be read, is from a newer handrail, or usage error
  3  intact but incomplete: the session did not end (still running, or its
     handrail crashed or was killed; resumable with handrail run --resume)
A script that needs the whole record requires exit 0; one that accepts a
session still in progress accepts 0 or 3.
`

// maxProblems bounds the structure problems a Report keeps, so that a
// crafted journal cannot make verify's memory grow with it.
const maxProblems = 20

// Verify checks the journal at path: the header, the hash chain, seq
// order, that every event type is known and the session starts with
// session_started, and whether the session ended. Editing any byte, or
// deleting, inserting or reordering any line, is a problem naming the line
// (a change to the last line shows only as a different Head).
//
// It streams: each line is hashed and checked as it is read, and only
// what the chain and the structure checks need is decoded (kind, prev,
// seq, type; the session ids of session_started; the outcome of
// session_ended), so memory stays constant whatever the journal's length.
// The rest of each line is covered by the hash chain; the last line, which
// no later prev covers, is decoded in full (as Read does) so that Verify
// and Read agree on where a journal ends.
func Verify(path string) Report {
	f, err := os.Open(path)
	if err != nil {
		return unchecked(err)
	}
	defer f.Close()
	return verifyFrom(f)
}

func unchecked(err error) Report {
	return Report{Status: Unchecked, Problems: []string{err.Error()}, Verdict: "NOT CHECKED: cannot read the journal: " + err.Error()}
}

// failed is the report of a journal Verify rejects while reading it.
func failed(err error) Report {
	var fe *FormatError
	if errors.As(err, &fe) {
		return Report{Status: Unchecked, Problems: []string{fe.Error()}, Verdict: "NOT CHECKED: " + fe.Error()}
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		what := "the journal was altered or damaged: "
		if ve.NotJournal {
			what = "not a handrail journal: "
		}
		return Report{Status: Damaged, Problems: []string{ve.Error()}, Verdict: "FAILED: " + what + ve.Error()}
	}
	return unchecked(err)
}

// lightFields is the part of an event line that Verify decodes.
type lightFields struct {
	eventFields
	Session *sessionIDs
	Outcome steps.Outcome
}

// lightLine is lightFields as encoding/json decodes it.
type lightLine struct {
	Kind    string          `json:"kind,omitempty"`
	Prev    *string         `json:"prev"`
	Seq     int64           `json:"seq"`
	Type    steps.EventType `json:"type"`
	Session *sessionIDs     `json:"session,omitempty"`
	Outcome steps.Outcome   `json:"outcome,omitempty"`
}

// sessionIDs is what the structure check compares with the header.
type sessionIDs struct {
	RunbookID   string `json:"runbook_id"`
	RunbookHash string `json:"runbook_hash"`
	ProjectID   string `json:"project_id"`
}

// verifyFrom is Verify of any reader: one pass, constant memory.
func verifyFrom(r io.Reader) Report {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		c    chain
		lr   lineReader
		s    structure
		last lastLine
		torn int // line number of a torn tail
	)
	for {
		line, err := lr.next(br)
		if err != nil && err != io.EOF {
			return unchecked(err)
		}
		if len(line) == 0 {
			break
		}
		if line[len(line)-1] != '\n' {
			if c.lines == 0 {
				return failed(verr(1, "the header is incomplete (the journal was being created when the process died); it records nothing"))
			}
			torn = c.lines + 1
			break
		}
		body := line[:len(line)-1]
		if c.lines == 0 {
			if _, err := c.acceptHeader(body); err != nil {
				return failed(err)
			}
			s.header = c.header
			continue
		}
		var l lightFields
		st, vErr := c.acceptLight(body, &l)
		if vErr != nil {
			// Read decodes each line in full before it checks its place
			// in the chain: name the line Read would name.
			if err := last.check(c.lines); err != nil {
				return failed(err)
			}
			if st == lineInvalid || st == lineBrokenPrev {
				if err := fullCheck(body, c.lines+1); err != nil {
					return failed(err)
				}
			}
			if st == lineBadJSON && atEOF(br) {
				torn = c.lines + 1
				break
			}
			if st == lineBrokenPrev {
				cur := append([]byte(nil), body...)
				if next, _ := lr.next(br); len(next) > 0 {
					return failed(blame(c.lines+1, cur, bytes.TrimSuffix(next, []byte("\n"))))
				}
			}
			return failed(vErr)
		}
		s.event(c.lines, l.Type, l.Session, l.Outcome)
		if s.approvals.relevant(l.Type) {
			if f, ok := s.approvals.decode(body); ok {
				s.approvals.event(c.lines, f, s.problem)
			}
		}
		last.set(body)
	}
	if c.lines == 0 {
		return failed(emptyJournal())
	}
	if err := last.check(c.lines); err != nil {
		return failed(err)
	}
	rep := s.report()
	rep.Head, rep.Lines = c.head(), c.lines
	rep.TornTail, rep.TornLine = torn > 0, torn
	rep.Verdict = verdict(rep)
	return rep
}

// lastLine holds the last event line accepted. No later prev covers it
// (yet), so before Verify ends or fails on the line after it, it holds it
// to the full decoding Read applies: both then stop at the same line.
type lastLine struct{ b []byte }

func (l *lastLine) set(line []byte) { l.b = append(l.b[:0], line...) }

// check decodes the last line (line n) in full.
func (l *lastLine) check(n int) *VerifyError {
	if len(l.b) == 0 {
		return nil
	}
	return fullCheck(l.b, n)
}

// fullCheck decodes line n in full, as Read does.
func fullCheck(line []byte, n int) *VerifyError {
	var ev eventLine
	if err := json.Unmarshal(line, &ev); err != nil {
		var c chain
		c.lines = n - 1
		_, vErr := c.decodeError(err)
		return vErr
	}
	return nil
}

// acceptLight decodes what the chain needs of an event line into l and
// checks it.
func (c *chain) acceptLight(line []byte, l *lightFields) (lineStatus, *VerifyError) {
	if !scanLight(line, l) {
		var ll lightLine
		if err := json.Unmarshal(line, &ll); err != nil {
			return c.decodeError(err)
		}
		*l = ll.fields()
	}
	return c.acceptEvent(line, l.eventFields)
}

func (l *lightLine) fields() lightFields {
	f := lightFields{eventFields: eventFields{Kind: l.Kind, Seq: l.Seq, Type: l.Type}, Session: l.Session, Outcome: l.Outcome}
	f.HasPrev, f.Prev = prevBytes(l.Prev)
	return f
}

// structure checks the events' order and content as they stream by,
// keeping nothing per event.
type structure struct {
	header   Header
	events   int
	started  bool
	ended    bool
	outcome  steps.Outcome
	problems []string
	more     int
	// approvals checks second-person approval of every write.
	approvals approvalCheck
}

func (s *structure) problem(line int, format string, args ...any) {
	if len(s.problems) == maxProblems {
		s.more++
		return
	}
	s.problems = append(s.problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
}

// event checks the event on the given line.
func (s *structure) event(line int, typ steps.EventType, ses *sessionIDs, outcome steps.Outcome) {
	s.events++
	if !KnownType(typ) {
		s.problem(line, "unknown event type %q", typ)
		return
	}
	if s.events == 1 && typ != steps.EvSessionStarted {
		s.problem(line, "the first event is %s, not session_started", typ)
	}
	switch typ {
	case steps.EvSessionStarted:
		if s.started {
			s.problem(line, "a second session_started")
		}
		s.started = true
		if ses == nil {
			s.problem(line, "session_started without the session")
			return
		}
		h := s.header
		same := func(what, header, event string) {
			if header != "" && event != "" && header != event {
				s.problem(line, "%s %q differs from the header's %q", what, event, header)
			}
		}
		same("runbook id", h.RunbookID, ses.RunbookID)
		same("runbook hash", h.RunbookHash, ses.RunbookHash)
		same("project id", h.ProjectID, ses.ProjectID)
	case steps.EvSessionResumed:
		s.ended, s.outcome = false, ""
	case steps.EvSessionEnded:
		s.ended, s.outcome = true, outcome
	}
}

// report is the structural verdict; the caller adds the chain's facts.
func (s *structure) report() Report {
	var header []string
	if s.header.RunbookID == "" {
		header = append(header, "line 1: the header names no runbook")
	}
	if s.header.Started.IsZero() {
		header = append(header, "line 1: the header has no start time")
	}
	r := Report{Events: s.events, Ended: s.ended, Outcome: s.outcome,
		Problems: append(header, s.problems...), MoreProblems: s.more,
		ApprovalRequired: s.approvals.required, ApprovedWrites: s.approvals.writes,
		Approvals: s.approvals.lines, MoreApprovals: s.approvals.more}
	r.OK = len(r.Problems) == 0
	switch {
	case !r.OK:
		r.Status = Damaged
	case r.Ended:
		r.Status = Complete
	default:
		r.Status = Incomplete
	}
	return r
}

// check is Verify's structural part, on a log that was read.
func check(log *Log) Report {
	s := structure{header: log.Header}
	for i, e := range log.Events {
		var ses *sessionIDs
		if e.Session != nil {
			ses = &sessionIDs{RunbookID: e.Session.RunbookID, RunbookHash: e.Session.RunbookHash, ProjectID: e.Session.ProjectID}
		}
		s.event(i+2, e.Type, ses, e.Outcome)
		if s.approvals.relevant(e.Type) {
			s.approvals.event(i+2, approvalFieldsOf(e), s.problem)
		}
	}
	r := s.report()
	r.Head, r.Lines = log.Head, log.Lines
	r.TornTail, r.TornLine = log.TornTail, log.TornLine
	r.Verdict = verdict(r)
	return r
}

// verdict is the one line for a human.
func verdict(r Report) string {
	var b strings.Builder
	switch {
	case !r.OK:
		fmt.Fprintf(&b, "FAILED: %s", r.Problems[0])
		if n := len(r.Problems) - 1 + r.MoreProblems; n > 0 {
			fmt.Fprintf(&b, " (and %d more)", n)
		}
	case r.Ended:
		fmt.Fprintf(&b, "OK: chain intact, %d events, session ended: %s", r.Events, r.Outcome)
	case r.Events == 0:
		fmt.Fprintf(&b, "OK (incomplete): chain intact, header only: no event was recorded")
	default:
		fmt.Fprintf(&b, "OK (incomplete): chain intact, %d events, the session did not end (it crashed, was killed, or is still running; resumable)", r.Events)
	}
	if r.TornTail {
		fmt.Fprintf(&b, "; torn last line %d dropped (the process died while writing it)", r.TornLine)
	}
	return b.String()
}

// VerifyCommand is `handrail verify LOG`: it prints the head hash and a
// one-line verdict (then any further problems) to w and returns the exit
// code of the verdict's Status (see VerifyExitCodes).
func VerifyCommand(w io.Writer, path string) int {
	r := Verify(path)
	head := r.Head
	if head == "" {
		head = "-"
	}
	fmt.Fprintf(w, "journal  %s\nhead     %s\nverdict  %s\n", path, head, r.Verdict)
	for _, p := range r.Problems[min(1, len(r.Problems)):] {
		fmt.Fprintf(w, "problem  %s\n", p)
	}
	if r.MoreProblems > 0 {
		fmt.Fprintf(w, "problem  ... and %d more not listed\n", r.MoreProblems)
	}
	if r.ApprovalRequired > 0 || len(r.Approvals) > 0 {
		fmt.Fprintf(w, "approval %d approver(s) required per write; %d write(s) checked\n", r.ApprovalRequired, r.ApprovedWrites)
		for _, a := range r.Approvals {
			fmt.Fprintf(w, "approved %s\n", termsafe.Line(a))
		}
		if r.MoreApprovals > 0 {
			fmt.Fprintf(w, "approved ... and %d more not listed\n", r.MoreApprovals)
		}
	}
	return r.Status.ExitCode()
}
