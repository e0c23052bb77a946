package steps

import (
	"slices"
	"strconv"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// BurntSushi/toml does not expose key positions, so tomlLocator scans the
// (already syntax-checked) source once and records where every key, table
// header and array element starts, under its indexed path: the path of
// TOML keys with array indices as extra segments, e.g.
// phase[1].step[0].kind is ("phase", #1, "step", #0, "kind"). Both
// [[phase.step]] headers and inline arrays of tables produce the same
// indexed paths. The scanner never fails: on anything unexpected it
// resynchronises at the next line.

const idxMark = "\x01" // prefix of an index segment

func idxSeg(i int) string {
	if i >= 0 && i < len(idxSegs) {
		return idxSegs[i]
	}
	return idxMark + strconv.Itoa(i)
}

// idxSegs are the first index segments, made once: the elements of a
// runbook's arrays (steps, expected rows) are indexed without allocating.
var idxSegs = func() []string {
	const n = 512
	var b []byte
	bounds := make([]int, n+1) // segment i is b[bounds[i]:bounds[i+1]]
	for i := range n {
		b = strconv.AppendInt(append(b, idxMark...), int64(i), 10)
		bounds[i+1] = len(b)
	}
	all, segs := string(b), make([]string, n) // two allocations, not 512
	for i := range segs {
		segs[i] = all[bounds[i]:bounds[i+1]]
	}
	return segs
}()

func isIdxSeg(s string) bool { return strings.HasPrefix(s, idxMark) }

func pathKey(p []string) string { return strings.Join(p, "\x00") }

// addPath returns a fresh copy of p with segs appended.
func addPath(p []string, segs ...string) []string {
	out := make([]string, 0, len(p)+len(segs))
	return append(append(out, p...), segs...)
}

// plainKey drops index segments: the key as toml.Key spells it.
func plainKey(p []string) string {
	var out []string
	for _, s := range p {
		if !isIdxSeg(s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\x00")
}

type tomlPos struct {
	Line, Col int
	// Val is the byte offset of the value after '=' (or of the array
	// element); -1 for table headers.
	Val int
}

// The locator keeps the indexed paths as a tree: a node per path, found
// by its parent's node and its last segment (a key as written, or an
// index segment), so recording a key allocates no path and no joined
// string. Positions are kept as byte offsets; lines and columns are
// computed only when a position is asked for (a problem's message, a
// step's line, the first line of an inline SQL text).
type locKey struct {
	parent int32 // rootNode for a top-level key
	seg    string
}

type locNode struct {
	parent int32
	aot    int32 // element count when the path names an array of tables
	seg    string
	off    int // where the key, header or element starts; -1: not recorded (only a prefix of recorded paths)
	val    int // see tomlPos.Val
}

const rootNode int32 = -1

type tomlLocator struct {
	src   string
	li    sqlscan.LineIndex
	ids   map[locKey]int32
	nodes []locNode
	order []int32  // recorded nodes, in the order first recorded
	segs  []string // keyPath's buffer
}

func newTOMLLocator(src string) *tomlLocator {
	// About one key per line: sized so that recording rarely grows them.
	n := strings.Count(src, "\n") + 1
	l := &tomlLocator{src: src, li: sqlscan.NewLineIndex(src), ids: make(map[locKey]int32, n), nodes: make([]locNode, 0, n), order: make([]int32, 0, n)}
	l.scan()
	return l
}

// child returns the node of parent's path extended by seg, made (not
// recorded) when new.
func (l *tomlLocator) child(parent int32, seg string) int32 {
	k := locKey{parent, seg}
	if id, ok := l.ids[k]; ok {
		return id
	}
	id := int32(len(l.nodes))
	l.nodes = append(l.nodes, locNode{parent: parent, seg: seg, off: -1, val: -1})
	l.ids[k] = id
	return id
}

// lookup returns the node of the indexed path p, if one was made.
func (l *tomlLocator) lookup(p []string) (int32, bool) {
	id := rootNode
	for _, s := range p {
		c, ok := l.ids[locKey{id, s}]
		if !ok {
			return 0, false
		}
		id = c
	}
	return id, true
}

func (l *tomlLocator) record(id int32, off, val int) {
	n := &l.nodes[id]
	if n.off >= 0 {
		return
	}
	n.off, n.val = off, val
	l.order = append(l.order, id)
}

func (l *tomlLocator) pos(id int32) tomlPos {
	n := l.nodes[id]
	return tomlPos{Line: l.li.Line(n.off), Col: l.li.Col(n.off), Val: n.val}
}

// path returns the indexed path of node id.
func (l *tomlLocator) path(id int32) []string {
	var p []string
	for ; id != rootNode; id = l.nodes[id].parent {
		p = append(p, l.nodes[id].seg)
	}
	slices.Reverse(p)
	return p
}

// find returns the position recorded for the indexed path p.
func (l *tomlLocator) find(p []string) (tomlPos, bool) {
	if id, ok := l.lookup(p); ok && len(p) > 0 && l.nodes[id].off >= 0 {
		return l.pos(id), true
	}
	return tomlPos{}, false
}

// near returns the position of p or of its longest recorded prefix; the
// zero position when nothing matches.
func (l *tomlLocator) near(p []string) tomlPos {
	id, best := rootNode, rootNode
	for _, s := range p {
		c, ok := l.ids[locKey{id, s}]
		if !ok {
			break
		}
		id = c
		if l.nodes[id].off >= 0 {
			best = id
		}
	}
	if best == rootNode {
		return tomlPos{}
	}
	return l.pos(best)
}

// contentLine returns the line on which the string value at pos starts its
// content: TOML drops a newline right after an opening multi-line
// string delimiter (three double or three single quotes).
func (l *tomlLocator) contentLine(pos tomlPos) int {
	off := pos.Val
	if off < 0 || off >= len(l.src) {
		return pos.Line
	}
	rest := l.src[off:]
	if strings.HasPrefix(rest, `"""`) || strings.HasPrefix(rest, `'''`) {
		off += 3
		if strings.HasPrefix(l.src[off:], "\r\n") {
			off += 2
		} else if strings.HasPrefix(l.src[off:], "\n") {
			off++
		}
		if off > len(l.src) {
			off = len(l.src)
		}
	}
	return l.li.Line(off)
}

func (l *tomlLocator) scan() {
	src := l.src
	n := len(src)
	cur := rootNode
	i := 0
	for i < n {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
			continue
		case c == '#':
			i = l.skipLine(i)
			continue
		case c == '[':
			start := i
			aot := i+1 < n && src[i+1] == '['
			if aot {
				i += 2
			} else {
				i++
			}
			segs, j := l.keyPath(i)
			i = j
			if len(segs) == 0 {
				i = l.skipLine(i)
				continue
			}
			if aot {
				full := l.child(l.resolve(segs[:len(segs)-1]), segs[len(segs)-1])
				idx := l.nodes[full].aot
				l.nodes[full].aot = idx + 1
				l.record(full, start, -1)
				cur = l.child(full, idxSeg(int(idx)))
			} else {
				cur = l.resolve(segs)
			}
			l.record(cur, start, -1)
			i = l.skipLine(i)
			continue
		}
		// key = value
		start := i
		segs, j := l.keyPath(i)
		i = l.skipBlank(j)
		if len(segs) == 0 || i >= n || src[i] != '=' {
			i = l.skipLine(start + 1)
			continue
		}
		i = l.skipBlank(i + 1)
		p := cur
		for _, s := range segs {
			p = l.child(p, s)
			l.record(p, start, -1)
		}
		l.setVal(p, i)
		i = l.value(i, p, 0)
		i = l.skipLine(i)
	}
}

// setVal records the value offset for an already recorded key.
func (l *tomlLocator) setVal(id int32, off int) {
	if n := &l.nodes[id]; n.off >= 0 && n.val < 0 {
		n.val = off
	}
}

// resolve maps a header's key segments to the node of its indexed path:
// a segment naming an array of tables refers to its last element.
func (l *tomlLocator) resolve(segs []string) int32 {
	id := rootNode
	for _, s := range segs {
		id = l.child(id, s)
		if n := l.nodes[id].aot; n > 0 {
			id = l.child(id, idxSeg(int(n)-1))
		}
	}
	return id
}

func (l *tomlLocator) skipBlank(i int) int {
	for i < len(l.src) && (l.src[i] == ' ' || l.src[i] == '\t') {
		i++
	}
	return i
}

// skipLine returns the offset after the next newline at or after i.
func (l *tomlLocator) skipLine(i int) int {
	if i > len(l.src) {
		return len(l.src)
	}
	k := strings.IndexByte(l.src[i:], '\n')
	if k < 0 {
		return len(l.src)
	}
	return i + k + 1
}

// skipWS skips whitespace, newlines and comments (inside arrays and
// inline tables).
func (l *tomlLocator) skipWS(i int) int {
	for i < len(l.src) {
		switch l.src[i] {
		case ' ', '\t', '\r', '\n':
			i++
		case '#':
			k := strings.IndexByte(l.src[i:], '\n')
			if k < 0 {
				return len(l.src)
			}
			i += k
		default:
			return i
		}
	}
	return i
}

func isBareKeyChar(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// keyPath reads a dotted key starting at i (after optional blanks). It
// stops before '=' or ']' (consuming "]" or "]]").
func (l *tomlLocator) keyPath(i int) ([]string, int) {
	src := l.src
	n := len(src)
	segs := l.segs[:0]
	defer func() { l.segs = segs[:0] }()
	for {
		i = l.skipBlank(i)
		if i >= n {
			return segs, i
		}
		switch c := src[i]; {
		case c == '"':
			end, _ := scanTOMLBasic(src, i)
			raw := src[i:end]
			s, err := strconv.Unquote(raw)
			if err != nil {
				s = strings.Trim(raw, `"`)
			}
			segs = append(segs, s)
			i = end
		case c == '\'':
			k := strings.IndexAny(src[i+1:], "'\n")
			if k < 0 || src[i+1+k] != '\'' {
				return nil, n
			}
			segs = append(segs, src[i+1:i+1+k])
			i += k + 2
		case isBareKeyChar(c):
			j := i
			for j < n && isBareKeyChar(src[j]) {
				j++
			}
			segs = append(segs, src[i:j])
			i = j
		default:
			return nil, i
		}
		i = l.skipBlank(i)
		if i < n && src[i] == '.' {
			i++
			continue
		}
		if i < n && src[i] == ']' {
			i++
			if i < n && src[i] == ']' {
				i++
			}
		}
		return segs, i
	}
}

// scanTOMLBasic scans a one-line basic string starting at src[i] == '"'.
func scanTOMLBasic(src string, i int) (int, bool) {
	n := len(src)
	for j := i + 1; j < n; j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		case '\n':
			return j, false
		}
	}
	return n, false
}

const maxTOMLDepth = 64

// value scans one value at i, recording positions of array elements and
// inline-table keys under p; it returns the offset after the value.
func (l *tomlLocator) value(i int, p int32, depth int) int {
	src := l.src
	n := len(src)
	if i >= n {
		return n
	}
	if depth > maxTOMLDepth {
		return l.skipLine(i)
	}
	switch src[i] {
	case '"':
		if strings.HasPrefix(src[i:], `"""`) {
			return skipMultiBasic(src, i)
		}
		end, _ := scanTOMLBasic(src, i)
		return end
	case '\'':
		return skipLiteral(src, i)
	case '[':
		return l.array(i, p, depth)
	case '{':
		return l.inlineTable(i, p, depth)
	}
	j := i
	for j < n && !strings.ContainsRune(",]}#\n", rune(src[j])) {
		j++
	}
	if j == i {
		return i + 1
	}
	return j
}

// skipMultiBasic skips a """multi-line basic string""" at i (up to two
// more quotes belong to its content).
func skipMultiBasic(src string, i int) int {
	n := len(src)
	for j := i + 3; j < n; j++ {
		if src[j] == '\\' {
			j++
			continue
		}
		if strings.HasPrefix(src[j:], `"""`) {
			j += 3
			for k := 0; k < 2 && j < n && src[j] == '"'; k++ {
				j++
			}
			return j
		}
	}
	return n
}

// skipLiteral skips a literal string at i: one in single quotes, or a
// multi-line one between three single quotes.
func skipLiteral(src string, i int) int {
	n := len(src)
	if strings.HasPrefix(src[i:], "'''") {
		k := strings.Index(src[i+3:], "'''")
		if k < 0 {
			return n
		}
		j := i + 3 + k + 3
		for m := 0; m < 2 && j < n && src[j] == '\''; m++ {
			j++
		}
		return j
	}
	k := strings.IndexAny(src[i+1:], "'\n")
	if k < 0 {
		return n
	}
	return i + 1 + k + 1
}

// array records the position of each element of the array at i.
func (l *tomlLocator) array(i int, p int32, depth int) int {
	src, n := l.src, len(l.src)
	j := i + 1
	for idx := 0; ; idx++ {
		j = l.skipWS(j)
		if j >= n {
			return n
		}
		if src[j] == ']' {
			return j + 1
		}
		ep := l.child(p, idxSeg(idx))
		l.record(ep, j, j)
		next := l.value(j, ep, depth+1)
		if next <= j {
			return l.skipLine(j)
		}
		j = l.skipWS(next)
		if j < n && src[j] == ',' {
			j++
		}
	}
}

// inlineTable records the position of each key of the inline table at i.
func (l *tomlLocator) inlineTable(i int, p int32, depth int) int {
	src, n := l.src, len(l.src)
	j := i + 1
	for {
		j = l.skipWS(j)
		if j >= n {
			return n
		}
		if src[j] == '}' {
			return j + 1
		}
		if src[j] == ',' {
			j++
			continue
		}
		start := j
		segs, k := l.keyPath(j)
		k = l.skipBlank(k)
		if len(segs) == 0 || k >= n || src[k] != '=' {
			return l.skipLine(start)
		}
		kp := p
		for _, s := range segs {
			kp = l.child(kp, s)
			l.record(kp, start, -1)
		}
		k = l.skipWS(k + 1)
		l.setVal(kp, k)
		next := l.value(k, kp, depth+1)
		if next <= k {
			return l.skipLine(k)
		}
		j = next
	}
}

// firstUnused returns the first recorded position whose plain key equals
// key (segments joined by NUL) and that used has not seen yet.
func (l *tomlLocator) firstUnused(key string, used map[string]bool) (tomlPos, []string, bool) {
	for _, id := range l.order {
		p := l.path(id)
		if plainKey(p) != key || used[pathKey(p)] {
			continue
		}
		return l.pos(id), p, true
	}
	return tomlPos{}, nil, false
}
