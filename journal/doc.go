// Package journal records a handrail session to a tamper-evident log and
// reads it back: append with fsync, hash chain, redaction, read, verify,
// follow (watch), transcript (replay --plain) and resume support.
//
// # Format
//
// A journal is a file of JSON lines (format version 1). The first line is
// the header:
//
//	{"kind":"header","format":1,"session_id":"...","runbook_id":"...",...,"prev":""}
//
// and every other line is one steps.Event, with the event's own JSON
// fields (seq, time, mono, type, step, data...) followed by prev:
//
//	{"seq":1,"time":"...","mono":1200,"type":"session_started",...,"prev":"<hex>"}
//
// prev is the hex SHA-256 of the previous line's bytes, without its
// newline; the header's prev is "". The head hash (Writer.Head, Log.Head,
// Report.Head) is the SHA-256 of the last line: pasted into the change
// ticket, it pins the whole recording, since editing, deleting, inserting
// or reordering any line breaks the chain at that line. Event seq numbers
// start at 1 and increase by exactly one per line, across resumes.
//
// The last line is protected by the chain only through the head hash: a
// change to it (or its removal) is visible only against a head hash
// recorded elsewhere (the ticket).
//
// # Torn tail
//
// Each line is written with one write(2) call, newline last, so a crash
// can leave at most the final line incomplete. A final line without a
// newline, or a final line that is not valid JSON, is a torn tail: Read
// reports it (Log.TornTail, Log.TornLine) and drops it, and OpenAppend
// truncates it away before continuing the chain. Such a line was never
// acknowledged to the engine (Append had not returned), so nothing acted
// on it. Anything wrong before the last line is an error (*VerifyError).
//
// # Redaction
//
// Redaction happens before hashing, so the file never holds a secret and
// the chain covers what is in the file. Every occurrence of a secret given
// to Create or OpenAppend (at least 4 bytes long; shorter ones are ignored)
// in any string of the header or of an event (Text, SQL, DSN, rows,
// notices, errors, messages, ...) is replaced by "[redacted]", as are its
// URL-escaped and libpq-quoted spellings. An event with Secret set has its
// Text replaced by "[redacted]" as a whole.
//
// # fsync policy (write-ahead)
//
// Append writes every event to the file at once (no user-space buffer, so
// a follower sees it immediately). It then fsyncs the file before
// returning, except for the high-volume streaming events
//
//	statement_started, statement_finished, rows, notice, exec_output, monitor_tick
//
// which are written but not fsynced individually: they become durable at
// the next fsync, which is the next event of any other type, or the next
// Append once unsynced data is a second old, or Close. Every other event is
// fsynced before Append returns: intent, step_started, the step results
// (step_succeeded, step_failed, step_cancelled, step_skipped,
// step_outcome_unknown, step_marked), consent_*, rollback_*, identity_*,
// lock_* (lock_acquired, lock_held, lock_wait), session_*, and the other
// operator decisions and verdicts (confirmed, item_*, manual_result,
// check_*, monitor_alert, monitor_ended, exec_exited, message_rendered,
// step_would_run, reconnected), which are rare and cheap.
//
// This is the write-ahead guarantee: the engine emits intent through the
// sink and sends the statement only after Append returned, so a statement
// that may have run always has its intent on disk. PendingIntents finds
// intents without a result when a session is resumed.
package journal
