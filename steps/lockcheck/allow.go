package lockcheck

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// AllowMarker starts an allow comment: "-- handrail:allow RULE reason".
const AllowMarker = "handrail:allow"

// parseAllow reads an allow comment's text ("-- handrail:allow rule[,rule]
// reason" or the same in /* */). ok is false when the comment is not an
// allow comment.
func parseAllow(text string) (rules []string, reason string, ok bool) {
	body := strings.TrimSpace(strings.TrimPrefix(text, "--"))
	if strings.HasPrefix(body, "/*") {
		body = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(body, "/*"), "*/"))
	}
	rest, found := strings.CutPrefix(body, AllowMarker)
	if !found || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return nil, "", false
	}
	rest = strings.TrimSpace(rest)
	// Rule ids, comma-separated (spaces after a comma are fine).
	for {
		end := strings.IndexAny(rest, ", \t")
		if end < 0 {
			end = len(rest)
		}
		if end > 0 {
			rules = append(rules, rest[:end])
		}
		rest = strings.TrimLeft(rest[end:], " \t")
		if !strings.HasPrefix(rest, ",") {
			break
		}
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	return rules, strings.TrimSpace(rest), true
}

// collectAllows reads the allow comments of every statement, attaching a
// comment on the same line as the end of the previous statement to that
// one ("create index ...; -- handrail:allow ..." accepts the index).
func (a *analyzer) collectAllows() map[int][]int {
	at := map[int][]int{}
	for _, i := range slices.Sorted(maps.Keys(a.comments)) { // in statement order
		cs := a.comments[i]
		sl := &a.res.Statements[i]
		sql, first, prevEnd, prevFile := cs.sql, cs.first, cs.prevEnd, cs.prevFile
		for _, c := range cs.list {
			rules, reason, ok := parseAllow(c.text)
			if !ok {
				continue
			}
			line := sl.Line
			if c.off < first {
				line -= strings.Count(sql[c.off:first], "\n")
			} else {
				line += strings.Count(sql[first:c.off], "\n")
			}
			owner := i
			if i > 0 && sl.File == prevFile && line == prevEnd && c.off < first {
				owner = i - 1
			}
			a.addAllow(at, owner, rules, reason, sl.File, line)
		}
	}
	return at
}

func (a *analyzer) addAllow(at map[int][]int, owner int, rules []string, reason, file string, line int) {
	if len(rules) == 0 {
		a.res.Problems = append(a.res.Problems, Problem{File: file, Line: line, Error: true,
			Msg:  "allow comment names no rule",
			Hint: "write -- handrail:allow RULE reason, e.g. -- handrail:allow " + RuleCreateIndexBlocking + " lookup table of 300 rows"})
		return
	}
	for _, r := range rules {
		if _, known := rulesByID[r]; !known {
			a.res.Problems = append(a.res.Problems, Problem{File: file, Line: line, Error: true,
				Msg: fmt.Sprintf("allow comment names unknown rule %q", r), Hint: ruleHint(r)})
			continue
		}
		if reason == "" {
			a.res.Problems = append(a.res.Problems, Problem{File: file, Line: line, Error: true,
				Msg:  fmt.Sprintf("allow comment for %s gives no reason", r),
				Hint: "say why it is safe here, e.g. the table's size: the journal records it"})
			continue
		}
		a.res.Allows = append(a.res.Allows, Allow{Rule: r, Reason: reason, File: file, Line: line})
		at[owner] = append(at[owner], len(a.res.Allows)-1)
	}
}

// ruleHint suggests the closest rule id.
func ruleHint(r string) string {
	best, bestD := "", 1<<30
	for _, ru := range Rules {
		if d := editDistance(r, ru.ID); d < bestD {
			best, bestD = ru.ID, d
		}
	}
	if bestD <= len(r)/2+1 {
		return fmt.Sprintf("did you mean %s?", best)
	}
	ids := make([]string, len(Rules))
	for i, ru := range Rules {
		ids[i] = ru.ID
	}
	return "rules: " + strings.Join(ids, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (a *analyzer) applyAllows() {
	a.res.allowAt = a.collectAllows()
	a.res.matchAllows()
}

// matchAllows marks each finding accepted by an allow comment of its
// statement, and reports allow comments that accept nothing. Weigh calls
// it again after adding findings.
func (an *Analysis) matchAllows() {
	for i := range an.Allows {
		an.Allows[i].Used = false
	}
	for i := range an.Findings {
		f := &an.Findings[i]
		f.Allowed = nil
		for _, k := range an.allowAt[f.Statement] {
			if an.Allows[k].Rule == f.Rule {
				an.Allows[k].Used = true
				al := an.Allows[k]
				f.Allowed = &al
				break
			}
		}
	}
	kept := an.Problems[:0]
	for _, p := range an.Problems {
		if p.Error {
			kept = append(kept, p)
		}
	}
	an.Problems = kept
	for _, al := range an.Allows {
		if !al.Used {
			an.Problems = append(an.Problems, Problem{File: al.File, Line: al.Line,
				Msg:  fmt.Sprintf("allow comment for %s accepts nothing: no %s finding on this statement", al.Rule, al.Rule),
				Hint: "put it directly above the statement it is for, or remove it"})
		}
	}
	sort.SliceStable(an.Problems, func(i, j int) bool { return an.Problems[i].Line < an.Problems[j].Line })
}

// AllowLines returns the lines of src holding an allow comment, so lint
// can report one that no statement picked up (a comment after the last
// statement of a file belongs to none).
func AllowLines(src string) []int {
	var lines []int
	var li *sqlscan.LineIndex
	for t := range sqlscan.Lex(src) {
		if t.Kind != sqlscan.Comment {
			continue
		}
		if _, _, ok := parseAllow(src[t.Start:t.End]); ok {
			if li == nil {
				x := sqlscan.NewLineIndex(src)
				li = &x
			}
			lines = append(lines, li.Line(t.Start))
		}
	}
	return lines
}
