package steps

// Superseded reports whether a screen that would fold a and then b may
// skip a: both are statement events of one step, nothing between them,
// and b is a statement_started. Folding b alone leaves the state folding
// both leaves: a start sets everything a start or an end of the
// statement before it set (the statement shown, how many are done, its
// rows and lock waits cleared, the step running; the screen's note of
// when it began). Of a run of statements, only the last start and the
// last end matter to what is shown.
//
// The session's queue to the operator's screen drops such events while
// they still wait (queue.NewCoalescing): a screen slower than a
// pipelined step (a terminal over a slow link, or a busy machine: the
// 53 MB file of inserts emits 57,000 statement events a second) would
// otherwise hold a backlog of every event, about 400 bytes each, growing
// for as long as the step runs. The journal records every event; the
// screen shows, at every event it gets, the state all events up to that
// one fold to (TestSupersededFoldsTheSame).
func Superseded(a, b Event) bool {
	return b.Type == EvStatementStarted && (a.Type == EvStatementStarted || a.Type == EvStatementFinished) &&
		a.Step == b.Step && b.Statement != nil
}
