package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/internal/redact"
	"github.com/handrail-dev/handrail/steps"
)

// Redacted replaces every secret in the journal.
const Redacted = redact.Mask

// DefaultDir is where journals go without --log-dir:
// $XDG_STATE_HOME/handrail/sessions, or ~/.local/state/handrail/sessions.
func DefaultDir() (string, error) { return stateDir("sessions") }

// DemoDir is where `handrail demo` journals go without --log-dir:
// $XDG_STATE_HOME/handrail/demo-sessions, or
// ~/.local/state/handrail/demo-sessions, so that demo sessions against a
// throwaway sandbox never pass for real ones (e.g. "the latest session").
func DemoDir() (string, error) { return stateDir("demo-sessions") }

func stateDir(sub string) (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "handrail", sub), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no journal directory: %w; pass --log-dir", err)
	}
	return filepath.Join(home, ".local", "state", "handrail", sub), nil
}

// syncTypes lists the events that Append always fsyncs before returning
// (see the package documentation): the write-ahead intent, the resolution
// of an unknown outcome, and the session's safety gates and lifecycle.
var syncTypes = map[steps.EventType]bool{
	steps.EvIntent:             true,
	steps.EvStepOutcomeUnknown: true,
	steps.EvStepMarked:         true,
	steps.EvConsentRequired:    true,
	steps.EvConsentGiven:       true,
	steps.EvLockAcknowledged:   true,
	steps.EvInvalidIndexDrop:   true,
	steps.EvConsentRejected:    true,
	steps.EvRollbackOffered:    true,
	steps.EvRollbackStarted:    true,
	steps.EvRollbackFinished:   true,
	steps.EvIdentityVerified:   true,
	steps.EvIdentityMismatch:   true,
	steps.EvLockAcquired:       true,
	steps.EvLockHeld:           true,
	steps.EvSessionStarted:     true,
	steps.EvSessionResumed:     true,
	steps.EvSessionEnded:       true,
}

// Synced reports whether Append always fsyncs the journal before
// returning for an event of type t. A step result is also fsynced when
// its step has an intent in flight (see the package documentation).
func Synced(t steps.EventType) bool { return syncTypes[t] }

// maxUnsynced bounds how long written events stay unsynced: a timer
// fsyncs them when no synced event came meanwhile.
const maxUnsynced = time.Second

// Writer appends events to a journal. It is safe for concurrent use;
// events must come in seq order (1, 2, 3, ... continuing across resumes).
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	header Header
	red    *redact.Redactor
	enc    *encoder

	head  string // hash of the last line
	seq   int64  // seq of the last event
	lines int
	fd    uintptr     // w.f's descriptor
	size  int64       // bytes this writer knows the file holds
	ident os.FileInfo // the file as opened, to notice it replaced at path

	unsynced bool
	timer    *time.Timer         // fsyncs unsynced events after maxUnsynced
	inFlight map[string]struct{} // steps with an intent and no result yet
	stmts    stmtTable           // format 2: each step's last statement listing
	batch    []byte              // RecordAll's lines, kept for the next batch
	prev     string              // the line being encoded's prev (encodeLine)
	// secretSQL (format 2): the step's last listing held a secret.
	secretSQL map[string]bool
	syncs     int   // fsyncs done (Syncs)
	err       error // sticky: once a write or fsync failed, nothing more is written
	closed    bool
	noSync    bool // tests and benchmarks only
	// streamWrite, when set, writes a streamed batch's pieces instead of
	// w.f.Write (tests only: a crash, a follower, a failure mid-line).
	streamWrite func(p []byte) (int, error)

	tornLine  int
	tornBytes int64
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal: writer closed")

// Create starts a new journal in dir (made with mode 0700 when missing; ""
// means DefaultDir) named "<UTC start 20060102T150405Z>-<runbook id>.jsonl"
// (with "-2", "-3", ... before ".jsonl" if that name is taken), mode 0600.
// It writes the header line and fsyncs the file and the directory before
// returning. Empty Header fields are filled in: Format, Started (now),
// Host (the host name), SSHClient ($SSH_CONNECTION). secrets are redacted
// from every line (see the package documentation).
func Create(dir string, h Header, secrets []string) (*Writer, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if h.Format == 0 {
		h.Format = FormatVersion
	}
	if h.Format != FormatVersion {
		return nil, fmt.Errorf("journal: cannot write format %d (this handrail writes %d)", h.Format, FormatVersion)
	}
	if h.Started.IsZero() {
		h.Started = time.Now()
	}
	h.Started = h.Started.UTC().Round(0)
	if h.Host == "" {
		h.Host, _ = os.Hostname()
	}
	if h.SSHClient == "" {
		h.SSHClient = os.Getenv("SSH_CONNECTION")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal directory: %w", err)
	}
	base := h.Started.Format("20060102T150405Z") + "-" + fileSafe(h.RunbookID)
	var (
		f    *os.File
		path string
		err  error
	)
	for i := 1; i <= 100; i++ {
		name := base + ".jsonl"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.jsonl", base, i)
		}
		path = filepath.Join(dir, name)
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("creating the journal: %w", err)
	}
	w := &Writer{f: f, path: path, red: redact.New(secrets), enc: newEncoder(), inFlight: map[string]struct{}{}, stmts: stmtTable{}, secretSQL: map[string]bool{}}
	fail := func(err error) (*Writer, error) {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("creating the journal %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil { // whatever the umask
		return fail(err)
	}
	if err := lockFile(f); err != nil {
		return fail(err)
	}
	w.header = redact.Value(w.red, h)
	empty := ""
	line, err := w.enc.encode(headerLine{Kind: headerKind, Header: w.header, Prev: &empty})
	if err != nil {
		return fail(err)
	}
	if _, err := f.Write(line); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	w.head = lineHash(line[:len(line)-1])
	w.lines = 1
	w.size, w.fd = int64(len(line)), f.Fd()
	if w.ident, err = f.Stat(); err != nil {
		return fail(err)
	}
	return w, nil
}

// fileSafe keeps a runbook id usable as part of a file name.
func fileSafe(id string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, id)
	s = strings.TrimLeft(s, ".")
	if len(s) > 100 {
		s = s[:100]
	}
	if s == "" {
		s = "session"
	}
	return s
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// OpenAppend opens an existing journal to resume its session: it reads and
// verifies it (a journal that does not verify is refused), truncates a torn
// last line away (TornTail says so), and returns a Writer that continues
// the chain from the last good line, with the events recorded so far (for
// steps.Config.Prior).
func OpenAppend(path string, secrets []string) (*Writer, []steps.Event, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, nil, err
	}
	log, err := ReadFrom(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: cannot resume: %w", path, err)
	}
	w := &Writer{f: f, path: path, header: log.Header, red: redact.New(secrets), enc: newEncoder(),
		head: log.Head, lines: log.Lines, size: log.size, fd: f.Fd(), inFlight: map[string]struct{}{}, stmts: log.stmts, secretSQL: map[string]bool{}}
	if w.stmts == nil {
		w.stmts = stmtTable{}
	}
	if w.ident, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, id := range PendingIntents(log.Events) {
		w.inFlight[id] = struct{}{}
	}
	if n := len(log.Events); n > 0 {
		w.seq = log.Events[n-1].Seq
	}
	if log.TornTail {
		if err := f.Truncate(log.size); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: truncating the torn line %d: %w", path, log.TornLine, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		w.tornLine, w.tornBytes = log.TornLine, log.tornBytes
	}
	return w, log.Events, nil
}

// TornTail reports what OpenAppend dropped: the line number of a torn last
// line and its length in bytes (0, 0 when the journal ended cleanly).
func (w *Writer) TornTail() (line int, dropped int64) { return w.tornLine, w.tornBytes }

// Header returns the journal's header (redacted, as written).
func (w *Writer) Header() Header { return w.header }

// Path returns the journal's file name.
func (w *Writer) Path() string { return w.path }

// Head returns the hash of the last line written, or "" once the journal
// was found changed under the writer (ErrJournalChanged): the file no
// longer ends with that line, and a head hash that verify rejects must not
// reach the change ticket.
func (w *Writer) Head() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if errors.Is(w.err, ErrJournalChanged) {
		return ""
	}
	return w.head
}

// Syncs returns how many times the journal was fsynced since Create or
// OpenAppend returned (by Append, the timer, Sync and Close).
func (w *Writer) Syncs() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.syncs
}

// Sink adapts Append to the engine's sink.
func (w *Writer) Sink() steps.Sink { return w.Append }

// Append records e as one line, written with one write(2) call (a listing
// line longer than 1 MiB: in pieces, see the package documentation, "Torn
// tail"), and fsyncs per the policy in the package documentation before
// returning. e must be the next event (its Seq one more than the last).
// Secrets are redacted before the line is hashed; e itself is not
// modified. After a write or fsync error every later Append fails: the
// file's tail is unknown, and handrail must not act unrecorded.
func (w *Writer) Append(e steps.Event) error {
	_, err := w.Record(e)
	return err
}

// Record is Append that also returns the event as it was recorded: with
// every secret redacted and a Secret event's Text masked. This is what a
// screen may show, so that it shows exactly what the journal holds and
// never a secret.
func (w *Writer) Record(e steps.Event) (steps.Event, error) {
	recs, err := w.RecordAll([]steps.Event{e})
	if len(recs) == 0 {
		return e, err
	}
	return recs[0], err
}

// Sinks returns an engine's Sink and SinkBatch (steps.Config) that record
// through w and hand each event, as recorded (secrets redacted), to then:
// what a screen, a partner or a progress line may show. then may be nil.
func (w *Writer) Sinks(then func(steps.Event)) (steps.Sink, steps.BatchSink) {
	sink := func(e steps.Event) error {
		rec, err := w.Record(e)
		if err == nil && then != nil {
			then(rec)
		}
		return err
	}
	batch := func(evs []steps.Event) error {
		recs, err := w.RecordAll(evs)
		if err != nil {
			return err
		}
		if then != nil {
			for _, rec := range recs {
				then(rec)
			}
		}
		return nil
	}
	return sink, batch
}

// RecordAll records events that happen together (a statement finishing and
// the next one starting, sent in one message) as Record records each, in
// order, their lines written with one write(2) call: a follower sees whole
// lines (it reads up to a newline), a crash of handrail writes all of them
// or none, and a crash of the machine can cut only the last line (see the
// package documentation). Their fsyncs are one, after the write, if any of
// them is fsynced. A batch holding a listing line longer than 1 MiB is
// written in write(2) calls of about 1 MiB (streamed, never held whole): a
// crash of handrail can then leave its first lines whole and that line
// torn, as a crash of the machine can. It returns the events as recorded.
// An event it refuses (out of sequence, not encodable) writes nothing of
// the batch and leaves the writer as it was; an error of the file (the
// write, the fsync, the file changed under it) stops every later write, as
// Append's. The engine stops at either (steps.Engine.emit).
func (w *Writer) RecordAll(events []steps.Event) ([]steps.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	if w.err != nil {
		return nil, w.err
	}
	if len(events) == 0 {
		return nil, nil
	}
	var (
		recs    = make([]steps.Event, 0, len(events))
		out     = w.batch[:0] // the lines, when more than one
		head    = w.head
		atPath  bool
		line    []byte
		bigs    []*bigLine // lines streamed, not in out
		endsAt  [4]lineEnd
		ends    = endsAt[:0] // where each line ends in the batch, for a streamed batch cut short
		end     int64        // of the batch's lines so far
		failure error
	)
	undo := w.refsUndo(events)
	for i, e := range events {
		if e.Seq != w.seq+1+int64(i) {
			undo()
			return nil, fmt.Errorf("journal: event %s has seq %d, want %d", e.Type, e.Seq, w.seq+1+int64(i))
		}
		var (
			rec steps.Event
			big *bigLine
		)
		line, big, rec, failure = w.encodeLine(e, head)
		if failure != nil {
			undo()
			return nil, failure
		}
		recs = append(recs, rec)
		atPath = atPath || w.willSync(e)
		if big != nil {
			head, big.at, big.seq, big.typ, big.line = big.hash, len(out), e.Seq, e.Type, w.lines+1+i
			bigs = append(bigs, big)
			end += big.size
			ends = append(ends, lineEnd{end, head})
			continue
		}
		head = lineHash(line[:len(line)-1])
		if len(events) > 1 {
			end += int64(len(line))
			ends = append(ends, lineEnd{end, head})
			out = append(out, line...) // line is the encoder's until the next
		}
	}
	if len(events) == 1 && bigs == nil {
		out = line
	} else if cap(out) <= maxKeptBuffer {
		w.batch = out
	}
	last := events[len(events)-1]
	if err := w.unchanged(atPath); err != nil {
		w.err = fmt.Errorf("journal: not recording event %d (%s): %w", last.Seq, last.Type, err)
		return recs, w.err
	}
	if bigs != nil {
		base := w.size
		if err := w.writeStreamed(out, bigs, last); err != nil {
			w.err = err
			w.headAt(ends, base)
			return recs, w.err
		}
	} else {
		if _, err := w.f.Write(out); err != nil {
			w.err = fmt.Errorf("journal: writing event %d (%s) to %s: %w", last.Seq, last.Type, w.path, err)
			return recs, w.err
		}
		w.size += int64(len(out))
	}
	w.head = head
	w.seq = last.Seq
	w.lines += len(events)
	w.enc.shrink()
	if err := w.syncBatch(events); err != nil {
		w.err = fmt.Errorf("journal: fsync after event %d (%s) of %s: %w", last.Seq, last.Type, w.path, err)
		return recs, w.err
	}
	return recs, nil
}

// syncBatch applies the fsync policy to events, just written: one fsync
// if any of them is fsynced, else the timer's.
func (w *Writer) syncBatch(events []steps.Event) error {
	sync := false
	for _, e := range events {
		sync = w.mustSync(e) || sync
	}
	if sync {
		return w.sync()
	}
	if !w.unsynced {
		w.unsynced = true
		if w.timer == nil {
			w.timer = time.AfterFunc(maxUnsynced, w.syncLater)
		} else {
			w.timer.Reset(maxUnsynced)
		}
	}
	return nil
}

// refsUndo returns a function that puts back the format 2 tables (stmts,
// secretSQL) of events' steps as they are now. A batch refused before its
// write must leave them as its lines would have: the reader's table
// follows the lines written, and a later line referring to a listing
// never written would be read with another listing's SQL, or none.
func (w *Writer) refsUndo(events []steps.Event) func() {
	type saved struct {
		list           *steps.StatementList
		listed, secret bool
		secretKnown    bool
	}
	before := map[string]saved{}
	for _, e := range events {
		if _, ok := before[e.Step]; !ok {
			var s saved
			s.list, s.listed = w.stmts[e.Step]
			s.secret, s.secretKnown = w.secretSQL[e.Step]
			before[e.Step] = s
		}
	}
	return func() {
		for step, s := range before {
			if s.listed {
				w.stmts[step] = s.list
			} else {
				delete(w.stmts, step)
			}
			if s.secretKnown {
				w.secretSQL[step] = s.secret
			} else {
				delete(w.secretSQL, step)
			}
		}
	}
}

// encodeLine encodes e as the line after the line hashed prev: redacted,
// compacted (format 2). The line is the encoder's until its next use; or,
// for a listing line longer than the encoder's chunk, big, hashed and
// checked for secrets, to be streamed when it is written (line nil). rec
// is e as recorded (see Record).
func (w *Writer) encodeLine(e steps.Event, prev string) (line []byte, big *bigLine, rec steps.Event, err error) {
	if e.Type == "" {
		return nil, nil, e, fmt.Errorf("journal: event %d has no type", e.Seq)
	}
	if e.Secret && e.Text != "" {
		e.Text = Redacted
	}
	w.prev = prev // Prev points into the writer: no allocation per line
	el := eventLine{Event: e, Prev: &w.prev}
	if w.header.Format >= 2 {
		el.Event, el.Listing = w.stmts.compact(e)
		if big = w.bigLine(el); big != nil {
			return nil, big, w.redactRefs(e, el, e, false), nil
		}
	}
	line, err = w.enc.encodeEvent(el)
	if err != nil {
		return nil, nil, e, fmt.Errorf("journal: encoding event %d (%s): %w", e.Seq, e.Type, err)
	}
	rec = e
	secret := w.red.InJSON(line)
	if secret {
		el.Listing.fill() // redact.Value copies exported fields only
		rec = redact.Value(w.red, e)
		line, err = w.enc.encode(redact.Value(w.red, el))
		if err != nil {
			return nil, nil, rec, fmt.Errorf("journal: encoding event %d (%s): %w", e.Seq, e.Type, err)
		}
	}
	if w.header.Format >= 2 {
		rec = w.redactRefs(e, el, rec, secret)
	}
	return line, nil, rec, nil
}

// An event's Statements keep their SQL in unexported fields, which
// redact.Value does not look into: it redacts them through MapStrings. Were
// the method to change shape, a secret in a step's SQL would be recorded
// as it is; this stops the build instead.
var _ redact.Mapper = (*steps.StatementList)(nil)

// redactRefs keeps Record's promise for format 2: an event that refers
// to statements listed with a secret (its line holds no SQL, so no secret)
// is returned redacted, as the reader will show it. It records, for each
// listing written, whether its line held a secret.
func (w *Writer) redactRefs(e steps.Event, el eventLine, rec steps.Event, secret bool) steps.Event {
	listed := el.Listing.full() || el.Statements != nil
	if listed {
		w.secretSQL[e.Step] = secret
		return rec
	}
	refers := el.Listing != nil || (e.Statement != nil && el.Statement != e.Statement)
	if refers && !secret && w.secretSQL[e.Step] {
		return redact.Value(w.red, e)
	}
	return rec
}

// ErrJournalChanged is wrapped by the error of an Append that found the
// journal changed by something other than this writer.
var ErrJournalChanged = errors.New("the journal was changed under this session")

// unchanged checks, before a line is appended, that the journal is still
// the file this writer has been writing, as it left it: not truncated,
// not appended to by another process, not deleted, not replaced at its
// path (an editor's save, mv). Appending to a changed file would record
// the session where nobody will look, or break the chain, and the session
// would end with a head hash that verify rejects; so the session must
// stop, before its next write to the database.
//
// The size and the link count (an fstat) are checked before every write
// (a line, or RecordAll's lines);
// the path (a stat, which costs a path lookup) before every fsynced event:
// an intent precedes every write to the database.
func (w *Writer) unchanged(atPath bool) error {
	stop := "; handrail stops before the next write to the database. " +
		"The file no longer holds this session's record: find out who changed it and keep what the screen shows; " +
		"then resume with handrail run --resume from an intact copy, or start a new session"
	size, links, err := fileState(w.f, w.fd)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s cannot be examined: %v", ErrJournalChanged, w.path, err)
	case links == 0:
		return fmt.Errorf("%w: %s was deleted, or replaced by another file (an editor's save, mv)%s", ErrJournalChanged, w.path, stop)
	case size < w.size:
		return fmt.Errorf("%w: %s was truncated to %d bytes; this session had written %d%s", ErrJournalChanged, w.path, size, w.size, stop)
	case size > w.size:
		return fmt.Errorf("%w: %s grew to %d bytes, %d more than this session wrote: another process wrote to it%s", ErrJournalChanged, w.path, size, size-w.size, stop)
	case !atPath:
		return nil
	}
	at, err := os.Stat(w.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s was moved away or deleted%s", ErrJournalChanged, w.path, stop)
	case err != nil:
		return fmt.Errorf("%w: %s cannot be examined: %v", ErrJournalChanged, w.path, err)
	case !os.SameFile(at, w.ident):
		return fmt.Errorf("%w: %s was replaced by another file (an editor's save, mv, a restore)%s", ErrJournalChanged, w.path, stop)
	}
	return nil
}

// willSync reports whether Append will fsync e (mustSync without its
// bookkeeping).
func (w *Writer) willSync(e steps.Event) bool {
	if e.Type.ResolvesIntent() {
		if _, ok := w.inFlight[e.Step]; ok {
			return true
		}
	}
	return Synced(e.Type)
}

// mustSync applies the fsync policy to e (just written), tracking the
// steps with an intent in flight.
func (w *Writer) mustSync(e steps.Event) bool {
	switch {
	case e.Type == steps.EvIntent:
		w.inFlight[e.Step] = struct{}{}
	case e.Type.ResolvesIntent():
		if _, ok := w.inFlight[e.Step]; ok {
			delete(w.inFlight, e.Step)
			return true
		}
	}
	return Synced(e.Type)
}

// syncLater is the timer's fsync of events left unsynced.
func (w *Writer) syncLater() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil || !w.unsynced {
		return
	}
	if err := w.sync(); err != nil {
		w.err = fmt.Errorf("journal: fsync of %s: %w", w.path, err)
	}
}

func (w *Writer) sync() error {
	w.unsynced = false
	w.syncs++
	if w.noSync {
		return nil
	}
	return w.f.Sync()
}

// Close fsyncs and closes the journal. It is safe to call twice.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	var err error
	if w.err == nil {
		err = w.sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: closing %s: %w", w.path, err)
	}
	return nil
}
