// Package sqlscan is handrail's SQL lexer and statement splitter: it splits
// a script into statements the way psql does, reports constructs that run
// to the end of the script, and classifies statements by their leading
// keywords (refused in a transaction block, transaction control,
// read-only). It follows PostgreSQL's lexical rules and never fails: what
// it does not recognise is punctuation. It knows nothing of runbooks.
package sqlscan

import (
	"fmt"
	"iter"
	"strings"
	"sync"
)

// Statement is one SQL statement of a script, as split by SplitStatements.
type Statement struct {
	// SQL is the statement text without its terminating ';', trimmed of
	// surrounding whitespace. Comments inside it and directly before it are
	// kept (they are what the operator reads on screen).
	SQL string
	// Line is the 1-based line of the source where the statement's first
	// Token that is not a comment is (a header comment kept in SQL does not
	// move it).
	Line int
	// Offset is the byte offset of SQL in the source: src[Offset:Offset+len(SQL)] == SQL.
	Offset int
	// File names the source the statement came from, relative to the
	// runbook directory (e.g. "migrations/001.sql", or "runbook.toml" for
	// inline statements). Empty when the source was a bare string.
	File string
}

// Where returns "file:line" (or "line N" without a file) for messages.
func (s Statement) Where() string {
	if s.File == "" {
		return fmt.Sprintf("line %d", s.Line)
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// Kind classifies a Token.
type Kind uint8

// The token kinds.
const (
	Word    Kind = iota + 1 // bare identifier or keyword (may contain '$')
	QIdent                  // "quoted identifier", U&"..."
	String                  // '...', E'...', B'...', X'...', N'...', U&'...', $tag$...$tag$
	Number                  // 42, 1.5e3, 0x1F
	Param                   // $1
	Punct                   // any other single character
	Semi                    // ;
	Comment                 // -- ... or /* ... */
	Meta                    // a psql backslash command line: \set ...
)

// Token is one lexical token: its kind and where it is in the source.
type Token struct {
	Kind       Kind
	Start, End int // byte offsets into the scanned source
	// Unterminated is set on a string, quoted identifier or block comment
	// that runs to the end of the input.
	Unterminated bool
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

func isDollarTagChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// Lex yields the tokens of src one at a time, following PostgreSQL's
// lexical rules (and psql's for backslash commands), so a long script is
// split without holding all of its tokens: a 20,000-statement migration
// has some 400,000 of them. It never fails: anything it does not
// recognise is a one-byte punctuation Token, and constructs running to
// the end of the input are marked unterminated.
func Lex(src string) iter.Seq[Token] {
	return func(yield func(Token) bool) {
		lexEach(src, yield)
	}
}

func lexEach(src string, yield func(Token) bool) {
	lineStart := true // only whitespace since the last newline (or start)
	for i := 0; i < len(src); {
		c := src[i]
		if isSpace(c) {
			if c == '\n' {
				lineStart = true
			}
			i++
			continue
		}
		tok, next := lexOne(src, i, lineStart)
		lineStart = false
		i = next
		if !yield(tok) {
			return
		}
	}
}

// lexOne reads the token that starts at i (not a space) and returns it
// with the position after it. atLineStart: only whitespace precedes it on
// its line (a psql meta-command may start there).
func lexOne(src string, i int, atLineStart bool) (Token, int) {
	n, c := len(src), src[i]
	switch {
	case c == '-' && i+1 < n && src[i+1] == '-':
		end := lineEnd(src, i)
		return Token{Kind: Comment, Start: i, End: end}, end
	case c == '/' && i+1 < n && src[i+1] == '*':
		end, term := scanBlockComment(src, i)
		return Token{Kind: Comment, Start: i, End: end, Unterminated: !term}, end
	case c == '\\' && atLineStart:
		next := lineEnd(src, i)
		end := next
		for end > i && isSpace(src[end-1]) {
			end--
		}
		return Token{Kind: Meta, Start: i, End: end}, next
	case c == '\'':
		end, term := scanQuoted(src, i, '\'', false)
		return Token{Kind: String, Start: i, End: end, Unterminated: !term}, end
	case c == '"':
		end, term := scanQuoted(src, i, '"', false)
		return Token{Kind: QIdent, Start: i, End: end, Unterminated: !term}, end
	case c == '$':
		return lexDollar(src, i)
	case c >= '0' && c <= '9' || (c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9'):
		end := scanNumber(src, i)
		return Token{Kind: Number, Start: i, End: end}, end
	case isIdentStart(c):
		return lexWord(src, i)
	case c == ';':
		return Token{Kind: Semi, Start: i, End: i + 1}, i + 1
	}
	return Token{Kind: Punct, Start: i, End: i + 1}, i + 1
}

// lineEnd is the position of the newline that ends the line at i (or the end).
func lineEnd(src string, i int) int {
	if k := strings.IndexByte(src[i:], '\n'); k >= 0 {
		return i + k
	}
	return len(src)
}

// scanBlockComment reads a /* ... */ comment at i; they nest.
func scanBlockComment(src string, i int) (end int, terminated bool) {
	n, depth := len(src), 0
	for i < n {
		switch {
		case src[i] == '/' && i+1 < n && src[i+1] == '*':
			depth++
			i += 2
		case src[i] == '*' && i+1 < n && src[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
		default:
			i++
		}
	}
	return i, false
}

// scanNumber reads a numeric constant at i (1, 1.5, .5, 1e-5, 1E+5).
func scanNumber(src string, i int) int {
	n := len(src)
	for i < n && (isIdentChar(src[i]) || src[i] == '.') && src[i] != '$' {
		if (src[i] == 'e' || src[i] == 'E') && i+1 < n && (src[i+1] == '-' || src[i+1] == '+') {
			i++ // exponent sign
		}
		i++
	}
	return i
}

// lexDollar reads what starts with $ at i: a parameter ($1), a
// dollar-quoted string ($$...$$, $tag$...$tag$; a tag does not start with
// a digit), or a lone $.
func lexDollar(src string, i int) (Token, int) {
	n := len(src)
	if i+1 < n && src[i+1] >= '0' && src[i+1] <= '9' {
		j := i + 1
		for j < n && src[j] >= '0' && src[j] <= '9' {
			j++
		}
		return Token{Kind: Param, Start: i, End: j}, j
	}
	j := i + 1
	if j < n && isIdentStart(src[j]) {
		for j < n && isDollarTagChar(src[j]) {
			j++
		}
	}
	if j >= n || src[j] != '$' {
		return Token{Kind: Punct, Start: i, End: i + 1}, i + 1
	}
	tag := src[i : j+1]
	body := j + 1
	k := strings.Index(src[body:], tag)
	if k < 0 {
		return Token{Kind: String, Start: i, End: n, Unterminated: true}, n
	}
	end := body + k + len(tag)
	return Token{Kind: String, Start: i, End: end}, end
}

// lexWord reads a word at i, or a prefixed string constant: E'..', B'..',
// X'..', N'..', U&'..', and the identifier U&"..".
func lexWord(src string, i int) (Token, int) {
	n, start := len(src), i
	for i < n && isIdentChar(src[i]) {
		i++
	}
	word := src[start:i]
	if i < n && src[i] == '\'' && len(word) == 1 {
		switch word[0] {
		case 'e', 'E':
			end, term := scanQuoted(src, i, '\'', true)
			return Token{Kind: String, Start: start, End: end, Unterminated: !term}, end
		case 'b', 'B', 'x', 'X', 'n', 'N':
			end, term := scanQuoted(src, i, '\'', false)
			return Token{Kind: String, Start: start, End: end, Unterminated: !term}, end
		}
	}
	if (word == "u" || word == "U") && i+1 < n && src[i] == '&' && (src[i+1] == '\'' || src[i+1] == '"') {
		q := src[i+1]
		end, term := scanQuoted(src, i+1, q, false)
		kind := String
		if q == '"' {
			kind = QIdent
		}
		return Token{Kind: kind, Start: start, End: end, Unterminated: !term}, end
	}
	return Token{Kind: Word, Start: start, End: i}, i
}

// scanQuoted scans a quoted construct starting at src[i] == q. A doubled
// quote is an escaped quote; with backslash, a backslash escapes the next
// byte (E'...' strings). It returns the offset after the closing quote and
// whether there was one.
func scanQuoted(src string, i int, q byte, backslash bool) (int, bool) {
	n := len(src)
	i++
	for i < n {
		c := src[i]
		if backslash && c == '\\' {
			i += 2
			continue
		}
		if c == q {
			if i+1 < n && src[i+1] == q {
				i += 2
				continue
			}
			return i + 1, true
		}
		i++
	}
	return n, false
}

// Issue describes a construct that runs to the end of a script: Line
// (1-based) and Offset say where it starts, What says what it is.
type Issue struct {
	Line, Offset int
	What         string
}

func tokenIssue(src string, t Token) string {
	switch t.Kind {
	case Comment:
		return "unterminated /* comment"
	case QIdent:
		return "unterminated quoted identifier"
	case String:
		if strings.HasPrefix(src[t.Start:], "$") {
			end := strings.IndexByte(src[t.Start+1:], '$')
			if end >= 0 {
				return fmt.Sprintf("unterminated dollar-quoted string (no closing %s)", src[t.Start:t.Start+end+2])
			}
		}
		return "unterminated quoted string"
	}
	return "unterminated Token"
}

// SplitStatements splits a SQL script into statements at top-level ';'
// the way psql does: semicolons inside comments, quoted strings, quoted
// identifiers, dollar quotes, parentheses and BEGIN ... END bodies of
// CREATE FUNCTION/PROCEDURE do not split. Empty and comment-only
// statements are dropped. A psql backslash command (a line starting with
// '\') is returned as a statement of its own so callers can reject it.
func SplitStatements(src string) []Statement {
	stmts, _ := Split(src)
	return stmts
}

// Split is SplitStatements that also reports the first construct running
// to the end of the script (an unterminated string, quoted identifier,
// dollar quote or block comment), which would swallow the rest of it into
// one statement; nil when there is none.
func Split(src string) ([]Statement, *Issue) {
	var out []Statement
	issue := Each(src, func(s Statement) bool {
		out = append(out, s)
		return true
	})
	return out, issue
}

// Statements yields the statements of src one at a time, as Split
// returns them (Each without its issue).
func Statements(src string) iter.Seq[Statement] {
	return func(yield func(Statement) bool) { Each(src, yield) }
}

// Each calls f with each statement of src in order, as Split returns
// them, and returns the issue Split reports. It holds no statement: a
// 53 MB migration's 1.16M statements are checked, or kept as the caller
// keeps them, without a []Statement of them all (issue 15). When f
// returns false it stops, and the issue is the one found up to there.
func Each(src string, f func(Statement) bool) *Issue {
	sp := splitter{src: src, lines: lineCounter{src: src, line: 1}, cur: pending{start: -1}}
	for t := range Lex(src) {
		if !sp.token(t, f) {
			return sp.issue
		}
	}
	sp.emit(f)
	return sp.issue
}

// splitter is Each's state. Each passes f to its methods rather than
// keeping it, so that f does not escape (Split's closure stays on the
// stack).
type splitter struct {
	src   string
	lines lineCounter
	issue *Issue
	stop  bool // f said stop
	cur   pending
}

// pending is the statement since the last split.
type pending struct {
	start     int  // offset of its first Token (-1: none)
	end       int  // end of its last Token
	real      bool // it has a Token other than comments
	firstLine int  // line of its first Token that is not a comment
	paren     int
	beginDep  int
	idents    [4]byte // psql's CREATE [OR REPLACE] FUNCTION/PROCEDURE detector
	nIdents   int
}

// yield hands s to f, unless f said stop before.
func (sp *splitter) yield(s Statement, f func(Statement) bool) {
	if !sp.stop && !f(s) {
		sp.stop = true
	}
}

// emit ends the pending statement (dropped when it holds only comments).
func (sp *splitter) emit(f func(Statement) bool) {
	c := &sp.cur
	if c.real && c.start >= 0 {
		// An unterminated last Token may end in whitespace.
		end := c.end
		for end > c.start && isSpace(sp.src[end-1]) {
			end--
		}
		sp.yield(Statement{SQL: sp.src[c.start:end], Line: c.firstLine, Offset: c.start}, f)
	}
	sp.cur = pending{start: -1}
}

// token takes the next Token; false when f said stop.
func (sp *splitter) token(t Token, f func(Statement) bool) bool {
	src, c := sp.src, &sp.cur
	if t.Unterminated && sp.issue == nil {
		sp.issue = &Issue{Line: sp.lines.at(t.Start), Offset: t.Start, What: tokenIssue(src, t)}
	}
	switch t.Kind {
	case Semi:
		if c.paren <= 0 && c.beginDep == 0 {
			sp.emit(f)
			return !sp.stop
		}
	case Meta:
		sp.emit(f)
		sp.yield(Statement{SQL: src[t.Start:t.End], Line: sp.lines.at(t.Start), Offset: t.Start}, f)
		return !sp.stop
	case Punct:
		switch src[t.Start] {
		case '(', '[':
			c.paren++
		case ')', ']':
			c.paren--
		}
	case Word:
		c.word(src[t.Start:t.End])
	}
	if c.start < 0 {
		c.start = t.Start
	}
	c.end = t.End
	if t.Kind != Comment && !c.real {
		c.real = true
		c.firstLine = sp.lines.at(t.Start)
	}
	return true
}

// word follows BEGIN ... END in the body of a CREATE FUNCTION/PROCEDURE,
// where a ';' does not split.
func (c *pending) word(w string) {
	if c.nIdents < len(c.idents) {
		switch strings.ToLower(w) {
		case "create", "function", "procedure", "or", "replace":
			c.idents[c.nIdents] = w[0] | 0x20
		}
	}
	c.nIdents++
	id := c.idents
	if id[0] == 'c' && (id[1] == 'f' || id[1] == 'p' ||
		(id[1] == 'o' && id[2] == 'r' && (id[3] == 'f' || id[3] == 'p'))) && c.paren == 0 {
		switch strings.ToLower(w) {
		case "begin":
			c.beginDep++
		case "case":
			if c.beginDep >= 1 {
				c.beginDep++
			}
		case "end":
			if c.beginDep > 0 {
				c.beginDep--
			}
		}
	}
}

// lineCounter gives the 1-based line of offsets asked in increasing
// order (as a scan meets them), counting newlines since the last one
// asked: no table of the source's lines.
type lineCounter struct {
	src       string
	off, line int // line is the line of offset off
}

// at returns the line of offset off.
func (lc *lineCounter) at(off int) int {
	if off >= lc.off {
		lc.line += strings.Count(lc.src[lc.off:off], "\n")
	} else {
		lc.line -= strings.Count(lc.src[off:lc.off], "\n")
	}
	lc.off = off
	return lc.line
}

// LineIndex maps byte offsets of a source to 1-based line numbers.
type LineIndex struct{ starts []int }

// NewLineIndex indexes the line starts of src.
func NewLineIndex(src string) LineIndex {
	starts := []int{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return LineIndex{starts: starts}
}

// Line returns the 1-based line of offset off.
func (li LineIndex) Line(off int) int {
	lo, hi := 0, len(li.starts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if li.starts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

// Col returns the 1-based byte column of offset off.
func (li LineIndex) Col(off int) int {
	l := li.Line(off)
	return off - li.starts[l-1] + 1
}

// sig is a significant (non-comment) Token with its text; words are uppercased.
type sig struct {
	kind Kind
	text string // uppercased for words, verbatim otherwise
}

func sigTokens(stmt string) []sig { return appendSigTokens(nil, stmt) }

// appendSigTokens appends the significant tokens of stmt to out.
func appendSigTokens(out []sig, stmt string) []sig {
	lexEach(stmt, func(t Token) bool {
		if t.Kind == Comment {
			return true
		}
		s := stmt[t.Start:t.End]
		if t.Kind == Word {
			s = upperWord(s)
		}
		out = append(out, sig{kind: t.Kind, text: s})
		return true
	})
	return out
}

// withSigTokens calls f with the significant tokens of stmt, in a buffer
// reused across calls: for the classifiers, which keep nothing of them
// (a runbook's load classifies every check and statement).
func withSigTokens[T any](stmt string, f func([]sig) T) T {
	bp := sigPool.Get().(*[]sig)
	toks := appendSigTokens((*bp)[:0], stmt)
	r := f(toks)
	clear(toks) // let go of the texts
	*bp = toks[:0]
	sigPool.Put(bp)
	return r
}

var sigPool = sync.Pool{New: func() any { return new([]sig) }}

// upperWord is strings.ToUpper of a word, without allocating when the
// word is a keyword (or already upper case).
func upperWord(w string) string {
	var buf [24]byte
	if len(w) > len(buf) {
		return strings.ToUpper(w)
	}
	lower := false
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
			lower = true
		} else if c >= 0x80 {
			return strings.ToUpper(w)
		}
		buf[i] = c
	}
	if !lower {
		return w
	}
	if k, ok := keywords[string(buf[:len(w)])]; ok {
		return k
	}
	return string(buf[:len(w)])
}

// keywords are the words the classifiers and the lock analysis read most,
// kept once in upper case (upperWord).
var keywords = func() map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(`ADD ALL ALTER ANALYSE ANALYZE AND ANY AS ASC BEGIN BETWEEN BIGINT BOOLEAN BY CALL
		CASCADE CASE CAST CHECK COLUMN COMMENT COMMIT CONCURRENTLY CONSTRAINT COPY COUNT CREATE CROSS DEFAULT DELETE
		DESC DISTINCT DO DROP ELSE END EXISTS EXPLAIN FALSE FOR FOREIGN FROM FULL FUNCTION GRANT GROUP HAVING IF IN
		INDEX INNER INSERT INT INTEGER INTO IS JOIN KEY LEFT LIKE LIMIT NO NOT NULL OF OFF ON OR ORDER OUTER POLICY
		PRIMARY REFERENCES RETURNING REVOKE RIGHT ROLLBACK SCHEMA SELECT SET SHARE SHOW TABLE TEXT THEN TO TRUE
		TRUNCATE UNION UNIQUE UPDATE USING VALID VALUES VERBOSE VIEW WHEN WHERE WITH`) {
		m[w] = w
	}
	return m
}()

// FirstWords returns the first n bare words (keywords or unquoted
// identifiers) of stmt, uppercased, skipping comments. It stops early at
// the first Token that is not a bare word (a string, a quoted identifier,
// punctuation), so the words it returns are a true prefix of the statement.
func FirstWords(stmt string, n int) []string {
	var out []string
	for _, s := range sigTokens(stmt) {
		if len(out) >= n || s.kind != Word {
			break
		}
		out = append(out, s.text)
	}
	return out
}

// isWord reports whether toks[i] is the bare word w (uppercase).
func isWord(toks []sig, i int, w string) bool {
	return i >= 0 && i < len(toks) && toks[i].kind == Word && toks[i].text == w
}

// skipParens returns the index after a parenthesised group starting at
// toks[i] (or i when toks[i] is not '(').
func skipParens(toks []sig, i int) int {
	if i >= len(toks) || toks[i].kind != Punct || toks[i].text != "(" {
		return i
	}
	depth := 0
	for ; i < len(toks); i++ {
		if toks[i].kind == Punct {
			switch toks[i].text {
			case "(":
				depth++
			case ")":
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	}
	return i
}

// statementsOf splits stmt and returns the significant tokens of each
// statement (a caller may hand us several).
func statementsOf(stmt string) [][]sig {
	var out [][]sig
	for _, s := range SplitStatements(stmt) {
		if toks := sigTokens(s.SQL); len(toks) > 0 {
			out = append(out, toks)
		}
	}
	return out
}

// NoTransactionReason returns why PostgreSQL refuses stmt inside a
// transaction block, or "" when it does not (as far as the statement's
// text tells: e.g. DROP SUBSCRIPTION is refused only when the subscription
// has a replication slot, and is reported). Only real tokens count:
// comments, string literals and identifiers that merely contain a keyword
// are ignored. If stmt holds several statements, the first refusal wins.
func NoTransactionReason(stmt string) string {
	for _, toks := range statementsOf(stmt) {
		if r := noTxReason(toks); r != "" {
			return r
		}
	}
	return ""
}

// StatementTransactionFaults is NoTransactionReason and TransactionControl
// of one statement as Split returns it, from one pass over its tokens,
// without splitting it again (a sql step's load asks both of every
// statement of its file).
func StatementTransactionFaults(stmt string) (noTx, control string) {
	if !faultLeads[firstWord(stmt)] {
		return "", "" // an insert, a select: no need to read on (a long file's load asks of each)
	}
	type faults struct{ noTx, control string }
	f := withSigTokens(stmt, func(toks []sig) faults {
		if len(toks) == 0 {
			return faults{}
		}
		return faults{noTxReason(toks), transactionControl(toks)}
	})
	return f.noTx, f.control
}

// faultLeads are the first words of the statements noTxReason or
// transactionControl name: no other statement has a fault.
var faultLeads = map[string]bool{
	"VACUUM": true, "CREATE": true, "DROP": true, "REINDEX": true, "ALTER": true, "DISCARD": true, "CLUSTER": true,
	"COMMIT": true, "ROLLBACK": true, "BEGIN": true, "END": true, "ABORT": true, "START": true, "PREPARE": true,
}

// firstWord is stmt's first Token that is not a comment, uppercased,
// when it is a bare word; else "".
func firstWord(stmt string) string {
	w := ""
	lexEach(stmt, func(t Token) bool {
		if t.Kind == Comment {
			return true
		}
		if t.Kind == Word && t.End-t.Start <= len("ROLLBACK") {
			w = upperWord(stmt[t.Start:t.End])
		}
		return false
	})
	return w
}

func noTxReason(t []sig) string {
	const suffix = " cannot run inside a transaction block"
	w := func(i int, s string) bool { return isWord(t, i, s) }
	// concurrently reports whether t[i] is the CONCURRENTLY keyword, not an
	// object named "concurrently" (which would be the last Token).
	concurrently := func(i int) bool { return w(i, "CONCURRENTLY") && i+1 < len(t) }
	switch {
	case w(0, "VACUUM"):
		return "VACUUM" + suffix
	case w(0, "CREATE") && w(1, "INDEX") && concurrently(2),
		w(0, "CREATE") && w(1, "UNIQUE") && w(2, "INDEX") && concurrently(3):
		return "CREATE INDEX CONCURRENTLY" + suffix
	case w(0, "DROP") && w(1, "INDEX") && concurrently(2):
		return "DROP INDEX CONCURRENTLY" + suffix
	case w(0, "REINDEX"):
		i := skipParens(t, 1)
		switch {
		case w(i, "SCHEMA"), w(i, "DATABASE"), w(i, "SYSTEM"):
			return "REINDEX " + t[i].text + suffix
		case (w(i, "TABLE") || w(i, "INDEX")) && concurrently(i+1):
			return "REINDEX CONCURRENTLY" + suffix
		}
	case w(0, "CREATE") && w(1, "DATABASE"):
		return "CREATE DATABASE" + suffix
	case w(0, "DROP") && w(1, "DATABASE"):
		return "DROP DATABASE" + suffix
	case w(0, "ALTER") && w(1, "DATABASE"):
		for i := 2; i+1 < len(t); i++ {
			if w(i, "SET") && w(i+1, "TABLESPACE") {
				return "ALTER DATABASE ... SET TABLESPACE" + suffix
			}
		}
	case w(0, "CREATE") && w(1, "TABLESPACE"):
		return "CREATE TABLESPACE" + suffix
	case w(0, "DROP") && w(1, "TABLESPACE"):
		return "DROP TABLESPACE" + suffix
	case w(0, "ALTER") && w(1, "SYSTEM"):
		return "ALTER SYSTEM" + suffix
	case w(0, "CREATE") && w(1, "SUBSCRIPTION"):
		// Refused only when it creates a replication slot (the default).
		for i := 2; i+2 < len(t); i++ {
			if w(i, "CREATE_SLOT") && t[i+1].text == "=" &&
				(w(i+2, "FALSE") || w(i+2, "OFF") || t[i+2].text == "0" || strings.EqualFold(t[i+2].text, "'false'") || strings.EqualFold(t[i+2].text, "'off'")) {
				return ""
			}
		}
		return "CREATE SUBSCRIPTION (with create_slot = true, the default)" + suffix
	case w(0, "DROP") && w(1, "SUBSCRIPTION"):
		return "DROP SUBSCRIPTION (of a subscription with a replication slot)" + suffix
	case w(0, "DISCARD") && w(1, "ALL"):
		return "DISCARD ALL" + suffix
	case w(0, "CLUSTER"):
		i := skipParens(t, 1)
		if w(i, "VERBOSE") {
			i++
		}
		if i >= len(t) {
			return "CLUSTER without a table name" + suffix
		}
	case (w(0, "COMMIT") || w(0, "ROLLBACK")) && w(1, "PREPARED"):
		return t[0].text + " PREPARED" + suffix
	case w(0, "ALTER") && w(1, "TABLE"):
		for i := 2; i+2 < len(t); i++ {
			if w(i, "DETACH") && w(i+1, "PARTITION") {
				for j := i + 2; j < len(t); j++ {
					if w(j, "CONCURRENTLY") {
						return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY" + suffix
					}
					if t[j].kind == Punct && t[j].text == "," {
						break
					}
				}
			}
		}
	}
	return ""
}

// TransactionControl returns the transaction-control command stmt is
// (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE
// TRANSACTION), or "". Inside a step that handrail runs in one
// transaction such a statement would end that transaction early and break
// the step's atomicity. SAVEPOINT, RELEASE and ROLLBACK TO are fine.
func TransactionControl(stmt string) string {
	for _, t := range statementsOf(stmt) {
		if c := transactionControl(t); c != "" {
			return c
		}
	}
	return ""
}

func transactionControl(t []sig) string {
	w := func(i int, s string) bool { return isWord(t, i, s) }
	switch {
	case w(0, "BEGIN"), w(0, "COMMIT") && !w(1, "PREPARED"), w(0, "END"), w(0, "ABORT"):
		return t[0].text
	case w(0, "START") && w(1, "TRANSACTION"):
		return "START TRANSACTION"
	case w(0, "PREPARE") && w(1, "TRANSACTION"):
		return "PREPARE TRANSACTION"
	case w(0, "ROLLBACK") && !w(1, "PREPARED"):
		i := 1
		if w(i, "WORK") || w(i, "TRANSACTION") {
			i++
		}
		if !w(i, "TO") {
			return "ROLLBACK"
		}
	}
	return ""
}

// sideEffectFuncs are well-known functions that change state even when
// called from a SELECT.
var sideEffectFuncs = map[string]bool{
	"NEXTVAL": true, "SETVAL": true,
	"PG_TERMINATE_BACKEND": true, "PG_CANCEL_BACKEND": true,
	"PG_RELOAD_CONF": true, "PG_ROTATE_LOGFILE": true, "PG_SWITCH_WAL": true,
	"PG_PROMOTE": true, "PG_CREATE_RESTORE_POINT": true,
	"PG_CREATE_PHYSICAL_REPLICATION_SLOT": true, "PG_CREATE_LOGICAL_REPLICATION_SLOT": true,
	"PG_DROP_REPLICATION_SLOT": true, "PG_STAT_RESET": true, "PG_STAT_RESET_SHARED": true,
	"PG_STAT_RESET_SINGLE_TABLE_COUNTERS": true, "PG_STAT_STATEMENTS_RESET": true,
	"LO_IMPORT": true, "LO_EXPORT": true, "LO_UNLINK": true, "LO_CREATE": true, "LO_CREAT": true,
	"LO_PUT": true, "LO_FROM_BYTEA": true, "DBLINK_EXEC": true, "DBLINK": true,
	"PG_FILE_WRITE": true, "PG_FILE_UNLINK": true, "PG_FILE_RENAME": true,
	"PG_ADVISORY_LOCK": true, "PG_ADVISORY_LOCK_SHARED": true,
	"PG_TRY_ADVISORY_LOCK": true, "PG_TRY_ADVISORY_LOCK_SHARED": true,
	"PG_ADVISORY_UNLOCK": true, "PG_ADVISORY_UNLOCK_SHARED": true, "PG_ADVISORY_UNLOCK_ALL": true,
	"TXID_CURRENT": true, "PG_CURRENT_XACT_ID": true,
}

// IsReadOnly reports, best effort, whether stmt only reads: SELECT,
// WITH, VALUES, TABLE, SHOW, or EXPLAIN (with ANALYZE only of a read-only
// statement), without SELECT ... INTO, data-modifying CTEs, FOR
// UPDATE/SHARE locking clauses or well-known side-effect functions such as
// nextval(). It cannot see inside user functions, so the engine should
// still run checks in a READ ONLY transaction. Several statements are
// read-only when each one is; an empty statement is not.
func IsReadOnly(stmt string) bool {
	all := statementsOf(stmt)
	if len(all) == 0 {
		return false
	}
	for _, toks := range all {
		if !readOnly(toks) {
			return false
		}
	}
	return true
}

// ReadOnlyStatement is IsReadOnly for one statement as Split returns it:
// it tokenises stmt once, without splitting it again (a runbook's check
// was already split to prove it is a single statement).
func ReadOnlyStatement(stmt string) bool {
	return withSigTokens(stmt, func(toks []sig) bool { return len(toks) > 0 && readOnly(toks) })
}

func readOnly(t []sig) bool {
	i := 0
	for i < len(t) && t[i].kind == Punct && t[i].text == "(" {
		i++
	}
	if i >= len(t) || t[i].kind != Word {
		return false
	}
	switch t[i].text {
	case "SHOW":
		return true
	case "EXPLAIN":
		j := i + 1
		analyze := false
		if j < len(t) && t[j].kind == Punct && t[j].text == "(" {
			end := skipParens(t, j)
			for k := j + 1; k < end; k++ {
				if isWord(t, k, "ANALYZE") || isWord(t, k, "ANALYSE") {
					analyze = !(isWord(t, k+1, "FALSE") || isWord(t, k+1, "OFF") || (k+1 < len(t) && t[k+1].text == "0"))
				}
			}
			j = end
		} else {
			for isWord(t, j, "ANALYZE") || isWord(t, j, "ANALYSE") || isWord(t, j, "VERBOSE") {
				if !isWord(t, j, "VERBOSE") {
					analyze = true
				}
				j++
			}
		}
		if !analyze {
			return true
		}
		return readOnly(t[j:])
	case "SELECT", "WITH", "VALUES", "TABLE":
	default:
		return false
	}
	for k := i; k < len(t); k++ {
		if t[k].kind != Word {
			continue
		}
		switch t[k].text {
		case "INSERT", "UPDATE", "DELETE", "MERGE", "INTO", "TRUNCATE", "COPY", "CALL", "DO":
			return false
		case "FOR":
			// FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE
			if isWord(t, k+1, "SHARE") || isWord(t, k+1, "KEY") || isWord(t, k+1, "NO") {
				return false
			}
		}
		if sideEffectFuncs[t[k].text] && k+1 < len(t) && t[k+1].text == "(" {
			return false
		}
	}
	return true
}
