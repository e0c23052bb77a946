package journal

import (
	"strconv"

	"github.com/handrail-dev/handrail/steps"
)

// A running sql step records two events per statement (statement_started,
// statement_finished): tens of thousands of lines a step, each holding
// only the header fields and a Statement. Through encoding/json (reflection
// over Event's 30 fields) such a line costs more than its write(2). The
// encoder writes these lines itself, byte for byte as encoding/json writes
// them (TestFastLineMatchesEncodingJSON, FuzzFastLine), and leaves every
// other line, and any line with a string it would have to escape, to
// encoding/json.

// encodeEvent is encode(el) for an event line.
func (e *encoder) encodeEvent(el eventLine) ([]byte, error) {
	if b, ok := e.fastLine(el); ok {
		return b, nil
	}
	if b, ok := e.listingLine(el); ok {
		return b, nil
	}
	el.Listing.fill()
	return e.encode(el)
}

// fastLine encodes el if it is a statement-shaped line (see above); ok
// false leaves it to encoding/json.
func (e *encoder) fastLine(el eventLine) (line []byte, ok bool) {
	ev := &el.Event
	if el.Listing != nil || el.Kind != "" || el.Prev == nil || !statementShaped(ev) {
		return nil, false
	}
	st := ev.Statement
	if !plainJSON(string(ev.Type)) || !plainJSON(ev.Step) || !plainJSON(*el.Prev) ||
		(st != nil && (!plainJSON(st.SQL) || !plainJSON(st.File) || !plainJSON(st.Tag))) {
		return nil, false
	}
	tm, err := ev.Time.MarshalJSON()
	if err != nil {
		return nil, false // encoding/json reports it
	}
	e.buf.Reset()
	b := e.buf.AvailableBuffer()
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, `,"time":`...)
	b = append(b, tm...)
	b = append(b, `,"mono":`...)
	b = strconv.AppendInt(b, int64(ev.Mono), 10)
	b = appendStr(append(b, `,"type":`...), string(ev.Type))
	if ev.Step != "" {
		b = appendStr(append(b, `,"step":`...), ev.Step)
	}
	if st != nil {
		b = appendStatement(append(b, `,"statement":`...), st)
	}
	b = appendStr(append(b, `,"prev":`...), *el.Prev)
	b = append(b, "}\n"...)
	e.buf.Write(b)
	// Printable ASCII only (plainJSON strings, numbers, an RFC 3339
	// time): nothing for termsafe.JSON to escape, so it is not scanned
	// again (FuzzFastLine compares with encode, which does).
	return e.buf.Bytes(), true
}

func appendStatement(b []byte, st *steps.StatementInfo) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(st.Index), 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(st.Count), 10)
	if st.SQL != "" {
		b = appendStr(append(b, `,"sql":`...), st.SQL)
	}
	if st.File != "" {
		b = appendStr(append(b, `,"file":`...), st.File)
	}
	if st.Line != 0 {
		b = strconv.AppendInt(append(b, `,"line":`...), int64(st.Line), 10)
	}
	if st.Tag != "" {
		b = appendStr(append(b, `,"tag":`...), st.Tag)
	}
	if st.RowsAffected != 0 {
		b = strconv.AppendInt(append(b, `,"rows_affected":`...), st.RowsAffected, 10)
	}
	if st.Elapsed != 0 {
		b = strconv.AppendInt(append(b, `,"elapsed":`...), int64(st.Elapsed), 10)
	}
	return append(b, '}')
}

// statementShaped: e has no field set besides Seq, Time, Mono, Type, Step
// and Statement. TestStatementShapedKnowsEveryField fails when Event
// gains a field this does not look at.
func statementShaped(e *steps.Event) bool {
	return e.Session == nil && e.Identity == nil && e.Lock == nil && e.Statements == nil &&
		e.Rows == nil && e.Notice == nil && e.Blockers == nil && e.Check == nil && e.Item == nil &&
		!e.Auto && e.Pass == nil && e.ExitCode == nil && e.Monitor == nil && e.Message == nil &&
		e.Error == nil && e.Outcome == "" && e.Command == nil && e.Promotion == nil && e.Share == nil &&
		e.Partner == nil && e.Locks == nil && e.Invalid == nil && e.Rehearsal == nil && e.Text == "" && !e.Secret
}

// plainJSON: s is printable ASCII without '"' or '\', which encoding/json
// writes as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// appendStr appends the quoted s; s must be plainJSON.
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
