package journal

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/handrail-dev/handrail/steps"
)

// KnownType reports whether t is an event type this handrail knows
// (steps.EventTypes is the one declaration of the set).
func KnownType(t steps.EventType) bool { return t.Known() }

// Report is the result of Verify.
type Report struct {
	// OK: the journal is intact and well formed. An unended session is
	// OK (incomplete, not tampered); the verdict says so.
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
	// Problems lists what is wrong, each naming its line.
	Problems []string
	// Verdict is one line for a human.
	Verdict string
}

// Verify checks the journal at path: the header, the hash chain, seq
// order, that every event type is known and the session starts with
// session_started, and whether the session ended. Editing any byte, or
// deleting, inserting or reordering any line, is a problem naming the line
// (a change to the last line shows only as a different Head).
func Verify(path string) Report {
	log, err := Read(path)
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			return Report{Problems: []string{ve.Error()},
				Verdict: "FAILED: the journal was altered or damaged: " + ve.Error()}
		}
		return Report{Problems: []string{err.Error()}, Verdict: "FAILED: cannot read the journal: " + err.Error()}
	}
	return check(log)
}

// check is Verify's structural part, on a log that was read.
func check(log *Log) Report {
	r := Report{Head: log.Head, Lines: log.Lines, Events: len(log.Events), TornTail: log.TornTail}
	problem := func(line int, format string, args ...any) {
		r.Problems = append(r.Problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
	}
	h := log.Header
	if h.RunbookID == "" {
		problem(1, "the header names no runbook")
	}
	if h.Started.IsZero() {
		problem(1, "the header has no start time")
	}
	started := false
	for i, e := range log.Events {
		line := i + 2
		if !KnownType(e.Type) {
			problem(line, "unknown event type %q", e.Type)
			continue
		}
		if i == 0 && e.Type != steps.EvSessionStarted {
			problem(line, "the first event is %s, not session_started", e.Type)
		}
		switch e.Type {
		case steps.EvSessionStarted:
			if started {
				problem(line, "a second session_started")
			}
			started = true
			if s := e.Session; s != nil {
				same := func(what, header, event string) {
					if header != "" && event != "" && header != event {
						problem(line, "%s %q differs from the header's %q", what, event, header)
					}
				}
				same("runbook id", h.RunbookID, s.RunbookID)
				same("runbook hash", h.RunbookHash, s.RunbookHash)
				same("project id", h.ProjectID, s.ProjectID)
			} else {
				problem(line, "session_started without the session")
			}
		case steps.EvSessionResumed:
			r.Ended, r.Outcome = false, ""
		case steps.EvSessionEnded:
			r.Ended, r.Outcome = true, e.Outcome
		}
	}
	r.OK = len(r.Problems) == 0
	var b strings.Builder
	switch {
	case !r.OK:
		fmt.Fprintf(&b, "FAILED: %s", r.Problems[0])
		if n := len(r.Problems) - 1; n > 0 {
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
		fmt.Fprintf(&b, "; torn last line %d dropped (the process died while writing it)", log.TornLine)
	}
	r.Verdict = b.String()
	return r
}

// VerifyCommand is `handrail verify LOG`: it prints the head hash and a
// one-line verdict (then any further problems) to w and returns the exit
// code: 0 when the journal verifies, 1 when it does not.
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
	if !r.OK {
		return 1
	}
	return 0
}
