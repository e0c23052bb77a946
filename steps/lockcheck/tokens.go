package lockcheck

import (
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// tok is a significant token of one statement. Words carry their
// upper-cased text in up, so keyword tests are plain comparisons.
type tok struct {
	kind sqlscan.Kind
	text string // as written
	up   string // upper-cased, for words only
	off  int    // byte offset in the statement's SQL
}

// comment is a comment of one statement, for allow-comment parsing.
type comment struct {
	text string
	off  int
}

// lexStatement splits a statement's SQL into significant tokens and
// comments. cache (may be nil) keeps the upper-cased form of each word;
// the tokens are appended to buf[:0] (a buffer reused from statement to
// statement: nothing keeps a token past its statement's analysis).
func lexStatement(sql string, cache map[string]string, buf []tok) (toks []tok, comments []comment) {
	toks = buf[:0]
	for t := range sqlscan.Lex(sql) {
		text := sql[t.Start:t.End]
		switch t.Kind {
		case sqlscan.Comment:
			comments = append(comments, comment{text: text, off: t.Start})
			continue
		case sqlscan.Word:
			up, ok := cache[text]
			if !ok {
				up = upper(text)
				if cache != nil {
					cache[text] = up
				}
			}
			toks = append(toks, tok{kind: t.Kind, text: text, up: up, off: t.Start})
			continue
		}
		toks = append(toks, tok{kind: t.Kind, text: text, off: t.Start})
	}
	return toks, comments
}

// upper is strings.ToUpper without an allocation for words already in
// upper case (common in generated migrations).
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= 0x80 {
			return strings.ToUpper(s)
		}
	}
	return s
}

// cursor walks the tokens of one statement (or of one ALTER TABLE
// subcommand).
type cursor struct {
	t []tok
	i int
}

func (c *cursor) done() bool { return c.i >= len(c.t) }

// wordAt reports whether the token k places ahead is the keyword w.
func (c *cursor) wordAt(k int, w string) bool {
	j := c.i + k
	return j >= 0 && j < len(c.t) && c.t[j].kind == sqlscan.Word && c.t[j].up == w
}

func (c *cursor) peek(w string) bool { return c.wordAt(0, w) }

// accept consumes the keywords ws if the next tokens are exactly them.
func (c *cursor) accept(ws ...string) bool {
	for k, w := range ws {
		if !c.wordAt(k, w) {
			return false
		}
	}
	c.i += len(ws)
	return true
}

// acceptOne consumes the next token if it is one of the keywords ws and
// returns it.
func (c *cursor) acceptOne(ws ...string) string {
	for _, w := range ws {
		if c.accept(w) {
			return w
		}
	}
	return ""
}

func (c *cursor) punctAt(k int, p string) bool {
	j := c.i + k
	return j >= 0 && j < len(c.t) && c.t[j].kind == sqlscan.Punct && c.t[j].text == p
}

func (c *cursor) acceptPunct(p string) bool {
	if c.punctAt(0, p) {
		c.i++
		return true
	}
	return false
}

// ident consumes an identifier (a bare word or a quoted identifier).
func (c *cursor) ident() (string, bool) {
	if c.done() {
		return "", false
	}
	t := c.t[c.i]
	if t.kind != sqlscan.Word && t.kind != sqlscan.QIdent {
		return "", false
	}
	c.i++
	s := identText(t)
	// "" is no identifier (PostgreSQL rejects a zero-length one).
	return s, s != ""
}

// parts consumes a dotted name and returns its parts.
func (c *cursor) parts() []string {
	first, ok := c.ident()
	if !ok {
		return nil
	}
	parts := []string{first}
	for c.punctAt(0, ".") {
		c.i++
		p, ok := c.ident()
		if !ok {
			break
		}
		parts = append(parts, p)
	}
	return parts
}

// name consumes a possibly qualified name: name, schema.name or
// catalog.schema.name (the catalog is dropped).
func (c *cursor) name() (Rel, bool) { return relOf(c.parts()) }

func relOf(parts []string) (Rel, bool) {
	switch len(parts) {
	case 0:
		return Rel{}, false
	case 1:
		return Rel{Name: parts[0]}, true
	}
	return Rel{Schema: parts[len(parts)-2], Name: parts[len(parts)-1]}, true
}

// skipParens consumes a parenthesised group if one starts here.
func (c *cursor) skipParens() {
	if !c.punctAt(0, "(") {
		return
	}
	depth := 0
	for ; c.i < len(c.t); c.i++ {
		if c.t[c.i].kind != sqlscan.Punct {
			continue
		}
		switch c.t[c.i].text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
			if depth == 0 {
				c.i++
				return
			}
		}
	}
}

// rest returns the remaining tokens.
func (c *cursor) rest() []tok { return c.t[min(c.i, len(c.t)):] }

// splitTop splits toks at commas outside parentheses.
func splitTop(toks []tok) [][]tok {
	var out [][]tok
	depth, start := 0, 0
	for i, t := range toks {
		if t.kind != sqlscan.Punct {
			continue
		}
		switch t.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, toks[start:i])
				start = i + 1
			}
		}
	}
	return append(out, toks[start:])
}

// hasWord reports whether the keyword w appears anywhere in toks (at any
// depth).
func hasWord(toks []tok, w string) bool {
	for _, t := range toks {
		if t.kind == sqlscan.Word && t.up == w {
			return true
		}
	}
	return false
}

// textOf joins tokens back into SQL-ish text for messages (single spaces).
func textOf(toks []tok) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && !(t.kind == sqlscan.Punct && (t.text == ")" || t.text == "," || t.text == "." || t.text == "(")) &&
			!(toks[i-1].kind == sqlscan.Punct && (toks[i-1].text == "(" || toks[i-1].text == ".")) {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}
