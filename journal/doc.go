// Package journal records a handrail session to a tamper-evident log and
// reads it back: append with fsync, hash chain, redaction, read, verify,
// follow (watch), transcript (replay --plain) and resume support.
//
// # Format
//
// A journal is a file of JSON lines (format version 2; format 1 is still
// read, verified and resumed, see below). The first line is the header:
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
// # Statements by index (format 2)
//
// Each statement's SQL is stored once per step. The first event that
// lists a step's statements (step_would_run, or the intent when nothing
// listed them before; an exec step's command likewise) holds them as
// "listing" instead of "statements":
//
//	"listing":{"count":3,"file":"migrations/001.sql","sql":["...","...","..."],"line":[4,2,5]}
//
// (statement k has index k and count 3; line holds each statement's line
// minus the previous one's). An event that lists the same statements again
// (the intent) refers to that listing: "listing":{"count":3}. A
// statement_started or statement_finished about a listed statement leaves
// out its sql, file and line, and keeps index and count: the reader takes
// them from the step's last listing. A listing that is not plain (several
// files, result fields) is written as "statements", as in format 1, and
// also becomes the step's last listing. Read, Follow, replay, watch and
// resume see every event with its SQL, as the engine emitted it. A
// reference to statements never listed (which handrail never writes) is
// read as statements without SQL; Verify does not resolve references:
// the chain and the head hash cover every line. A resumed journal
// continues in its own format (OpenAppend).
//
// Format 1 wrote "statements" and every statement's "sql", "file" and
// "line" with each event about it (a migration's SQL about four times).
//
// The last line is protected by the chain only through the head hash: a
// change to it (or its removal) is visible only against a head hash
// recorded elsewhere (the ticket).
//
// # Lock events
//
// A sql step records what it locks before it runs and what its locks did:
//
//   - locks_weighed (step, locks): the step's statements analysed
//     (steps/lockcheck) and weighed on the target, read-only, right before
//     the step is shown: per statement the relations it locks, the mode,
//     whether it rewrites or scans them, their size, the sessions the
//     lock would wait for; the findings with their rule id, live weight
//     (none, low, medium, high) and reasons, and the allow comment that
//     accepted a finding (allowed: file, line, reason); the INVALID
//     indexes on its tables. locks.error says why it could not be weighed
//     (the step ran unweighed). Again on every attempt: the last one
//     counts.
//   - lock_acknowledged (step, text: the rule id the operator typed): a
//     high-severity finding no allow comment accepted. The step does not
//     run before each such rule is acknowledged.
//   - invalid_index_found (step, invalid): after a failed CREATE INDEX or
//     REINDEX CONCURRENTLY, the INVALID indexes it left (new since the
//     step was weighed). invalid_index_drop (step, text: the index,
//     statements: the DROP INDEX CONCURRENTLY IF EXISTS of exactly that
//     index) is the write-ahead intent of the operator's
//     drop_invalid_index command, and invalid_index_dropped (step, pass,
//     text: the index, error) its result. A resumed session records a
//     drop that has no result as invalid_index_dropped without pass (its
//     outcome unknown; the index stays offered for a drop).
//   - rehearsed (step, rehearsal): run --rehearse ran the step in a
//     transaction that was always rolled back, while a second connection
//     read pg_locks for its backend: the locks taken (the strongest mode
//     per relation), from which statement and for how long, what
//     lockcheck had predicted, and the predictions that were wrong; or
//     why the step was not rehearsed (rehearsal.skipped: transaction =
//     false).
//
// # Torn tail
//
// Each line is written with one write(2) call, newline last, so a crash
// can leave at most the final line incomplete. Events that happen together
// (a statement finishing as the next one starts, sent in one message;
// Writer.RecordAll) are written as several whole lines in one write(2)
// call: a crash of handrail writes all of them or none of them, a crash
// of the machine can still leave only the file's last line cut, and a
// follower, which reads up to a newline, sees whole lines.
//
// The exception is a listing line longer than 1 MiB (a step's first
// listing of a large migration: 57 MB for 1.16 million statements). It
// is never held whole: it is built, hashed and checked for secrets in
// pieces of about 1 MiB, then built again and written, with the other
// lines of its batch, in write(2) calls of about 1 MiB. A crash in the
// middle of it (of handrail or of the machine) leaves what a cut write
// leaves: the lines before it whole, it without its newline, a torn tail.
// A follower waits for its newline as for any line. A write that fails,
// or the file found changed, between two pieces stops the writer, as
// any failed write does, and its error says which line was cut and
// after how many bytes; the writer's head is then the last whole line.
//
// A final line without a newline, or a final line that is not valid JSON,
// is a torn tail: Read reports it (Log.TornTail, Log.TornLine) and drops
// it, and OpenAppend truncates it away before continuing the chain. Such a
// line was never acknowledged to the engine (Append had not returned), so
// nothing acted on it. Anything wrong before the last line is an error
// (*VerifyError), and so is a last line that is valid JSON but not an
// event (a value of the wrong type): a crash cuts a line short, it does
// not retype a value.
//
// A journal whose header names a newer format than FormatVersion is not
// read: the error is a *FormatError, which names the handrail version that
// wrote it, not a *VerifyError (nothing is wrong with it).
//
// # Verify
//
// Verify streams: it hashes and checks each line as it is read, decodes
// only what the chain and the structure checks need, and keeps nothing per
// event, so its memory does not grow with the journal. Its Status says
// whether the journal is intact and complete, intact but incomplete (the
// session did not end), damaged, or could not be checked; handrail
// verify's exit code follows it (VerifyExitCodes).
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
// Append writes every event to the file at once (no user-space buffer
// beyond the pieces of a long listing line, see "Torn tail", so a follower
// sees it immediately, and a crash of handrail itself loses nothing that
// Append accepted; RecordAll writes its events at once, and fsyncs once
// after the write if any of them is fsynced). fsync only adds durability
// against a crash of the machine; Append fsyncs the file before returning
// for
//
//   - intent (write-ahead: before a writing step's statements are sent);
//   - the result of a step whose intent has no result yet (step_succeeded,
//     step_failed, step_cancelled, step_skipped of a writing step that
//     ran; step_outcome_unknown and step_marked always);
//   - the safety gates and the session's lifecycle: identity_*, lock_acquired,
//     lock_held, consent_*, lock_acknowledged, rollback_*, session_*;
//   - invalid_index_drop (write-ahead: before the DROP INDEX CONCURRENTLY
//     of an INVALID index is sent).
//
// Every other event (step_started, statement_*, rows, notice, exec_output, monitor_*,
// lock_wait, check_*, item_*, confirmed, confirm_rejected, manual_result,
// message_rendered, step_would_run, exec_exited, reconnected,
// locks_weighed, invalid_index_found, invalid_index_dropped, rehearsed,
// share_opened, partner_joined, partner_left, approval_required,
// approval_given, hold_placed, hold_released, rollback_proposed (an
// approval is made durable by the intent it precedes), and the result of a step
// that wrote nothing) is written at once and becomes
// durable with the next fsynced event, or at most a second later (a timer
// fsyncs it), or at Close. What a machine crash can lose is therefore
// only the last second of read-only progress and verdicts, which a
// resumed session runs again; never an intent, nor the result of a write.
// (A step start is not fsynced: nothing is written to the database before
// the step's intent, which is.)
//
// This is the write-ahead guarantee: the engine emits intent through the
// sink and sends the statement only after Append returned, so a statement
// that may have run always has its intent on disk. PendingIntents finds
// intents without a result when a session is resumed.
//
// # The file under the writer
//
// A journal is only ever appended to, by one process: the writer holds an
// exclusive flock on it from Create (or OpenAppend) to Close. Before every
// write (one line, or RecordAll's lines) the writer checks that the file
// still has the size it wrote and is still linked, and before every
// fsynced event that its path still names it; if not (truncated, appended
// to by another process, deleted, replaced, moved) Append fails with
// ErrJournalChanged, the engine stops before its next write, and Head is
// empty. A follower probes the lock to tell a live writer from one that
// died without ending the session (WriterState).
package journal
