package steps

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// Allowed values of the enumerated keys.
var (
	IdentitySources = db.IdentitySources
	OnFailValues    = []string{"stop", "rollback", "continue"}
	MessageWhens    = []string{"before", "success", "rollback"}
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stepRef is a step with the indexed TOML path it was decoded from.
type stepRef struct {
	s        *Step
	p        []string
	rollback bool
	n        int // 1-based position among phase steps of its kind, or among rollback steps
}

func (v *validator) stepRefs(r *Runbook) []stepRef {
	var refs []stepRef
	perKind := map[Kind]int{}
	for i := range r.Phases {
		for j := range r.Phases[i].Steps {
			s := &r.Phases[i].Steps[j]
			perKind[s.Kind]++
			refs = append(refs, stepRef{s: s, p: []string{"phase", idxSeg(i), "step", idxSeg(j)}, n: perKind[s.Kind]})
		}
	}
	for j := range r.Rollback.Steps {
		refs = append(refs, stepRef{s: &r.Rollback.Steps[j], p: []string{"rollback", "step", idxSeg(j)}, rollback: true, n: j + 1})
	}
	return refs
}

// Validate checks r the way lint does, everything its types alone cannot
// say, and returns every problem at once. A runbook read by Load is
// already validated (Load returns the problems); its problems carry
// file:line:col. A runbook built in code is checked from its values: a
// problem names the key's path instead (phase[1].step[2].statements, a
// line within an inline SQL string), and a key counts as set when it is
// not the zero value. Like Load, Validate completes r: steps without an
// id get their generated one, and the SQL files are read (from r.Dir) and
// kept, so that what was validated is what runs.
func Validate(r *Runbook) Problems {
	v := newValidator(r)
	v.validate()
	v.probs.sort()
	return v.probs
}

// validator checks a Runbook. Where the keys were written (and whether
// at all) is w's to say, so the same checks serve Load and a runbook
// built in code.
type validator struct {
	r     *Runbook
	w     where
	probs Problems
	// msgIDs are the ids of [[messages]], for message steps.
	msgIDs map[string]bool
}

func newValidator(r *Runbook) *validator {
	w := r.where
	if w == nil {
		w = codeWhere{r}
	}
	if r.files == nil {
		r.files = map[string]string{}
	}
	if r.stmtBase == nil {
		r.stmtBase = map[string][]int{}
	}
	return &validator{r: r, w: w}
}

func (v *validator) add(pr Problem, sev Severity, hint, format string, args ...any) {
	pr.Severity, pr.Hint, pr.Msg = sev, hint, fmt.Sprintf(format, args...)
	v.probs = append(v.probs, pr)
}

// at adds a problem positioned at the key with indexed path p (or its
// nearest recorded ancestor).
func (v *validator) at(p []string, sev Severity, hint, format string, args ...any) {
	v.add(v.w.at(p), sev, hint, format, args...)
}

// inText adds a problem at line (1-based) and col of the string at p.
func (v *validator) inText(p []string, line, col int, sev Severity, hint, format string, args ...any) {
	v.add(v.w.inText(p, line, col), sev, hint, format, args...)
}

// inFile adds a problem in a file the runbook references.
func (v *validator) inFile(rel string, line, col int, sev Severity, hint, format string, args ...any) {
	v.add(Problem{Path: v.r.showPath(rel), Line: line, Col: col}, sev, hint, format, args...)
}

// top adds a problem about a missing top-level table.
func (v *validator) top(key string, sev Severity, hint, format string, args ...any) {
	v.add(v.w.top(key), sev, hint, format, args...)
}

// has reports whether the table at p sets key.
func (v *validator) has(p []string, key string) bool {
	k, _ := v.w.keys(p)
	return k[key]
}

// bad reports whether the value at p was already reported as malformed.
func (v *validator) bad(p []string) bool { return v.w.bad(p) }

// validate checks everything the types alone cannot, loads the SQL files
// into r and assigns generated step ids.
func (v *validator) validate() {
	r := v.r
	v.validateMeta(r)
	v.validateTarget(r)
	v.validateStaging(r)
	v.validateUnattended(r)
	v.validateApproval(r)
	v.validateSettings(r)
	v.msgIDs = v.validateMessages(r)

	refs := v.stepRefs(r)
	for _, ref := range refs {
		ref.s.Line = v.w.line(ref.p)
	}
	v.assignIDs(refs)
	if len(r.AllSteps()) == 0 {
		v.at(nil, Error, "add [[phase]] tables with [[phase.step]] entries", "runbook has no steps")
	}
	for i, ph := range r.Phases {
		if len(ph.Steps) == 0 {
			v.at([]string{"phase", idxSeg(i)}, Warning, "", "phase %q has no steps", ph.Title)
		}
	}
	for _, ref := range refs {
		v.validateStep(ref)
	}

	// Writes need a way back.
	if len(r.Rollback.Steps) == 0 {
		for _, ref := range refs {
			if !ref.rollback && ref.s.Kind.Writes() {
				v.at(ref.p, Warning, "add [[rollback.step]] entries so the change can be undone from the run screen",
					"step %q writes but the runbook has no [rollback] steps", ref.s.ID)
				break
			}
		}
		for _, ref := range refs {
			if ref.s.OnFail == "rollback" {
				v.at(addPath(ref.p, "on_fail"), Error, "add [[rollback.step]] entries or use on_fail = \"stop\"",
					"on_fail = \"rollback\" but the runbook has no [rollback] steps")
			}
		}
	}
}

func (v *validator) validateMeta(r *Runbook) {
	if !v.has(nil, "runbook") {
		v.top("runbook", Error, `add a [runbook] table with id = "..." and title = "..."`, "missing [runbook] table")
		return
	}
	if strings.TrimSpace(r.Meta.ID) == "" && !v.bad([]string{"runbook", "id"}) {
		v.at([]string{"runbook"}, Error, `the id names the runbook in the journal and in the deploy lock; e.g. id = "rls-hardening"`,
			"[runbook] has no id")
	}
}

var supabaseRef = lazyRegexp(`^[a-z]{20}$`)

func (v *validator) validateTarget(r *Runbook) {
	t := &r.Target
	tp := []string{"target"}
	if !v.has(nil, "target") {
		v.top("target", Error, `add [target] with name, project_id and identity`, "missing [target] table")
		return
	}
	if strings.TrimSpace(t.ProjectID) == "" {
		if !v.bad(addPath(tp, "project_id")) {
			v.at(tp, Error, "project_id is what identity checks compare the database against", "[target] has no project_id")
		}
	} else {
		for i, f := range t.Forbidden {
			if f == t.ProjectID {
				v.at(addPath(tp, "forbidden", idxSeg(i)), Error, "forbidden lists known non-targets such as staging",
					"project_id %q is also in forbidden", f)
			}
		}
	}
	for i, src := range t.Identity {
		if !contains(IdentitySources, src) {
			hint := "one of " + strings.Join(IdentitySources, ", ")
			if c := closest(src, IdentitySources); c != "" {
				hint = fmt.Sprintf("did you mean %q? (%s)", c, hint)
			}
			v.at(addPath(tp, "identity", idxSeg(i)), Error, hint, "unknown identity source %q", src)
		}
	}
	idCovered := v.bad(addPath(tp, "identity"))
	if len(t.Identity) == 0 && !idCovered {
		if t.Production {
			v.at(addPath(tp, "production"), Error,
				`add identity = ["stamp"] (after "handrail stamp"), ["supabase"], ["system_identifier"] or ["sql"] with identity_sql`,
				"production target has no identity source, so handrail cannot prove which database it is connected to")
		} else {
			v.at(tp, Warning, `add identity = ["stamp"], ["supabase"], ["system_identifier"] or ["sql"]`,
				"target has no identity source, so handrail cannot prove which database it is connected to")
		}
	}
	hasSQL := contains(t.Identity, IdentitySQL)
	switch {
	case hasSQL && strings.TrimSpace(t.IdentitySQL) == "":
		v.at(addPath(tp, "identity"), Error, `add identity_sql = "select ..." returning one value`,
			`identity source "sql" needs identity_sql`)
	case !hasSQL && t.IdentitySQL != "":
		v.at(addPath(tp, "identity_sql"), Error, `add "sql" to identity, or remove identity_sql`,
			`identity_sql is set but "sql" is not in identity, so it would never run`)
	case hasSQL:
		v.checkReadOnlySQL(t.IdentitySQL, addPath(tp, "identity_sql"), "identity_sql")
	}
	v.validatePlaceholders(t)
	if contains(t.Identity, IdentitySupabase) && t.ProjectID != "" && !supabaseRef().MatchString(t.ProjectID) &&
		!isPlaceholder(t.ProjectID, PlaceholderProjectID) {
		v.at(addPath(tp, "project_id"), Warning, "a Supabase project ref is 20 lowercase letters",
			"project_id %q is not a Supabase project ref, so the supabase identity source can never match it", t.ProjectID)
	}
}

// validateStaging checks [staging]: a project id that is not [target]'s,
// identity sources that can prove it, a positive proof_max_age; and that
// a staging_proof item has a [staging] to prove.
func (v *validator) validateStaging(r *Runbook) {
	sp := []string{"staging"}
	if !v.has(nil, "staging") {
		for _, ref := range v.stepRefs(r) {
			for j, it := range ref.s.Items {
				if it.StagingProof {
					v.at(addPath(ref.p, "items", idxSeg(j), "staging_proof"), Error,
						"add a [staging] table (name, project_id, identity) naming the staging database",
						"staging_proof item, but the runbook names no [staging] environment to prove")
				}
			}
		}
		return
	}
	st := r.Staging
	switch {
	case strings.TrimSpace(st.ProjectID) == "":
		if !v.bad(addPath(sp, "project_id")) {
			v.at(sp, Error, "project_id is what identity checks compare the staging database against", "[staging] has no project_id")
		}
	case st.ProjectID == r.Target.ProjectID:
		v.at(addPath(sp, "project_id"), Error, "staging and production must be different databases",
			"[staging] project_id %q is [target]'s project_id", st.ProjectID)
	}
	for i, src := range st.Identity {
		if !contains(IdentitySources, src) {
			v.at(addPath(sp, "identity", idxSeg(i)), Error, "one of "+strings.Join(IdentitySources, ", "), "unknown identity source %q", src)
		}
	}
	if len(st.Identity) == 0 && !v.bad(addPath(sp, "identity")) {
		v.at(sp, Error, `add identity = ["stamp"], ["supabase"], ["system_identifier"] or ["sql"]`,
			"[staging] has no identity source: a staging journal proves nothing unless the database was proven to be staging")
	}
	hasSQL := contains(st.Identity, IdentitySQL)
	switch {
	case hasSQL && strings.TrimSpace(st.IdentitySQL) == "":
		v.at(addPath(sp, "identity"), Error, `add identity_sql = "select ..." returning one value`, `identity source "sql" needs identity_sql`)
	case !hasSQL && st.IdentitySQL != "":
		v.at(addPath(sp, "identity_sql"), Error, `add "sql" to identity, or remove identity_sql`,
			`identity_sql is set but "sql" is not in identity, so it would never run`)
	case hasSQL:
		v.checkReadOnlySQL(st.IdentitySQL, addPath(sp, "identity_sql"), "identity_sql")
	}
	if v.has(sp, "proof_max_age") && !v.bad(addPath(sp, "proof_max_age")) && st.ProofMaxAge.Duration <= 0 {
		v.at(addPath(sp, "proof_max_age"), Error, `e.g. "14d"; leave it out for 14 days`, "proof_max_age must be positive")
	}
}

// validateUnattended checks [apply].
func (v *validator) validateUnattended(r *Runbook) {
	ap := []string{"apply"}
	u := r.Unattended
	if u.OnFailure != "" && !contains(OnFailureValues, u.OnFailure) {
		v.at(addPath(ap, "on_failure"), Error, "one of "+strings.Join(OnFailureValues, ", "), "unknown on_failure %q", u.OnFailure)
	}
	if u.OnFailure == "rollback" && len(r.Rollback.Steps) == 0 {
		v.at(addPath(ap, "on_failure"), Error, `add [[rollback.step]] entries or use on_failure = "stop"`,
			`on_failure = "rollback" but the runbook has no [rollback] steps`)
	}
	if v.has(ap, "plan_max_age") && !v.bad(addPath(ap, "plan_max_age")) && u.PlanMaxAge.Duration <= 0 {
		v.at(addPath(ap, "plan_max_age"), Error, `e.g. "24h"; leave it out for 24 hours`, "plan_max_age must be positive")
	}
}

// validateApproval checks [approval].
func (v *validator) validateApproval(r *Runbook) {
	ap := []string{"approval"}
	a := r.Approval
	if a.Required < 0 || a.Required > MaxApprovers {
		v.at(addPath(ap, "required"), Error, fmt.Sprintf("from 0 (no approval) to %d", MaxApprovers), "required = %d is out of range", a.Required)
	}
	if a.OnLeave != "" && !contains(OnLeaveValues, a.OnLeave) {
		v.at(addPath(ap, "on_leave"), Error, "one of "+strings.Join(OnLeaveValues, ", "), "unknown on_leave %q", a.OnLeave)
	}
}

func (v *validator) validateSettings(r *Runbook) {
	sp := []string{"settings"}
	for _, f := range []struct {
		key string
		v   Duration
	}{{"lock_timeout", r.Settings.LockTimeout}, {"statement_timeout", r.Settings.StatementTimeout}} {
		if v.has(sp, f.key) && !v.bad(addPath(sp, f.key)) && f.v.Duration <= 0 {
			v.at(addPath(sp, f.key), Error, "every SQL step runs with a bounded wait; leave it out for the default",
				"%s must be positive, not %s", f.key, f.v.Duration)
		}
	}
	if r.Settings.KeepRows < 0 {
		v.at(addPath(sp, "keep_rows"), Error, "", "keep_rows must not be negative")
	}
}

// ParseMessage parses a message body as a Go text/template (the renderer
// and lint share it).
func ParseMessage(m Message) (*template.Template, error) {
	t, err := template.New(m.ID).Option("missingkey=error").Parse(m.Body)
	if err != nil {
		return nil, err
	}
	// Rendered once with every fact set, so that a field that does not
	// exist ({{.Nope}}) or an action MessageFacts cannot take is found by
	// lint, not when the message is due (a rollback's announcement).
	sample, fields := messageSample()
	if err := t.Execute(io.Discard, sample); err != nil {
		return nil, fmt.Errorf("%w (the fields are %s)", err, fields)
	}
	return t, nil
}

// messageSample is a MessageFacts with every field set (to its name), and
// the fields as a message body names them (".Target .ProjectID ..."): read
// from the type, so a fact added to MessageFacts is known to lint and
// listed in its error without a second list to keep.
func messageSample() (MessageFacts, string) {
	var f MessageFacts
	v := reflect.ValueOf(&f).Elem()
	names := make([]string, v.NumField())
	for i := range v.NumField() {
		names[i] = "." + v.Type().Field(i).Name
		if v.Field(i).Kind() == reflect.String {
			v.Field(i).SetString(v.Type().Field(i).Name)
		}
	}
	return f, strings.Join(names, " ")
}

var templateLine = lazyRegexp(`^template: [^:]*:(\d+)(?::\d+)?:\s*(.*)$`)

func (v *validator) validateMessages(r *Runbook) map[string]bool {
	ids := map[string]bool{}
	first := map[string]string{}
	for i, m := range r.Messages {
		mp := []string{"messages", idxSeg(i)}
		switch {
		case m.ID == "":
			v.at(mp, Error, `add id = "..." so a message step can name it`, "message has no id")
		case ids[m.ID]:
			v.at(addPath(mp, "id"), Error, "first defined at "+first[m.ID], "duplicate message id %q", m.ID)
		default:
			ids[m.ID] = true
			first[m.ID] = v.w.name(addPath(mp, "id"))
		}
		if !contains(MessageWhens, m.When) && !v.bad(addPath(mp, "when")) {
			if m.When == "" {
				v.at(mp, Error, "one of "+strings.Join(MessageWhens, ", "), "message %q has no when", m.ID)
			} else {
				v.at(addPath(mp, "when"), Error, "one of "+strings.Join(MessageWhens, ", "), "unknown message when %q", m.When)
			}
		}
		if strings.TrimSpace(m.Body) == "" {
			if !v.bad(addPath(mp, "body")) {
				v.at(mp, Error, "", "message %q has no body", m.ID)
			}
			continue
		}
		if _, err := ParseMessage(m); err != nil {
			bp := addPath(mp, "body")
			pr := v.w.at(bp)
			pr.Col = 0
			msg := err.Error()
			if sm := templateLine().FindStringSubmatch(msg); sm != nil {
				if n, err := strconv.Atoi(sm[1]); err == nil {
					pr = v.w.inText(bp, n, 0)
				}
				msg = sm[2]
			}
			v.add(pr, Error, "bodies are Go text/template, e.g. {{.Target}}", "message %q: bad template: %s", m.ID, msg)
		}
	}
	return ids
}

// assignIDs reports duplicate explicit ids and gives every step without
// one a stable generated id: "<kind>-<n>" (n counting that kind's phase
// steps) or "rollback-<n>".
func (v *validator) assignIDs(refs []stepRef) {
	taken := map[string]string{} // id -> where it is first used
	for _, ref := range refs {
		id := ref.s.ID
		if id == "" {
			continue
		}
		ip := addPath(ref.p, "id")
		if line, dup := taken[id]; dup {
			v.at(ip, Error, "first used at "+line+"; ids must be unique across phases and rollback",
				"duplicate step id %q", id)
			continue
		}
		if strings.TrimSpace(id) != id || strings.ContainsAny(id, " \t\n") {
			v.at(ip, Error, `use letters, digits, "-" and "_"`, "step id %q contains whitespace", id)
		}
		taken[id] = v.w.name(ip)
	}
	for _, ref := range refs {
		if ref.s.ID != "" {
			continue
		}
		base := "rollback"
		if !ref.rollback {
			base = string(ref.s.Kind)
			if !contains(kindStrings(), base) {
				base = "step"
			}
		}
		id := fmt.Sprintf("%s-%d", base, ref.n)
		for k := 2; ; k++ {
			if _, ok := taken[id]; !ok {
				break
			}
			id = fmt.Sprintf("%s-%d-%d", base, ref.n, k)
		}
		ref.s.ID = id
		taken[id] = v.w.name(ref.p)
	}
}

// validateStep checks what every step needs (a known kind, no key of
// another kind), then hands the step to its kind.
func (v *validator) validateStep(ref stepRef) {
	s, p := ref.s, ref.p
	pres, ok := v.w.keys(p)
	if !ok { // not a table; already reported
		return
	}
	if !pres["kind"] {
		v.at(p, Error, "one of "+kindNames(), "%s has no kind", stepWhat(s))
		return
	}
	if s.Kind == "" { // bad type, already reported
		return
	}
	k := kindTable[s.Kind]
	if k == nil {
		hint := ""
		if c := closest(string(s.Kind), kindStrings()); c != "" {
			hint = fmt.Sprintf("did you mean %q?", c)
		}
		v.at(addPath(p, "kind"), Error, hint, "unknown step kind %q (one of %s)", s.Kind, kindNames())
		return
	}
	// Keys that do not belong to this kind.
	for _, key := range sortedKeys(pres) {
		if contains(commonStepKeys, key) || contains(k.keys, key) {
			continue
		}
		if _, known := stepFields[key]; !known {
			continue // unknown key, already reported
		}
		hint := ""
		if ks := kindsWithKey(key); len(ks) > 0 {
			hint = fmt.Sprintf("%q belongs to %s steps", key, strings.Join(ks, "/"))
		}
		if h, ok := k.misplaced[key]; ok {
			hint = h
		}
		v.at(addPath(p, key), Error, hint, "%q does not apply to %s steps", key, s.Kind)
	}
	k.unit.validate(v, ref)
}

// stepWhat names a step in messages.
func stepWhat(s *Step) string { return fmt.Sprintf("step %q", s.ID) }

// require reports a key the step's kind needs and does not have (unless
// its value was already reported as bad).
func (v *validator) require(ref stepRef, key string, ok bool, hint string) {
	if !ok && !v.bad(addPath(ref.p, key)) {
		v.at(ref.p, Error, hint, "%s step %q needs %s", ref.s.Kind, ref.s.ID, key)
	}
}

// validateOnFail checks on_fail (check and manual steps).
func (v *validator) validateOnFail(ref stepRef) {
	if f := ref.s.OnFail; f != "" && !contains(OnFailValues, f) {
		v.at(addPath(ref.p, "on_fail"), Error, "one of "+strings.Join(OnFailValues, ", "), "unknown on_fail %q", f)
	}
}

var stepFields, _ = tomlFields(reflect.TypeOf(Step{}))

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// validateExpect checks the expectation keys of the table at p.
func (v *validator) validateExpect(p []string, rows []Row, n *int, empty bool, what string) {
	set := 0
	var keys []string
	for _, k := range []string{"expect", "expect_rows", "expect_empty"} {
		if !v.has(p, k) || (k == "expect_empty" && !empty && !v.bad(addPath(p, k))) {
			continue
		}
		set++
		keys = append(keys, k)
	}
	switch {
	case set == 0:
		hint := `expect = [{ column = value }], expect_rows = N or expect_empty = true`
		if v.has(p, "kind") { // a step, not a checklist item
			hint += `; report = true for an informational check`
		}
		v.at(p, Error, hint, "%s has no expectation", what)
	case set > 1:
		v.at(addPath(p, keys[1]), Error, "keep one of them", "%s sets both %s and %s", what, keys[0], keys[1])
	}
	if n != nil && *n < 0 {
		v.at(addPath(p, "expect_rows"), Error, "", "expect_rows must not be negative")
	}
	if v.has(p, "expect") && !v.bad(addPath(p, "expect")) {
		if len(rows) == 0 {
			v.at(addPath(p, "expect"), Error, "use expect_empty = true to expect no rows", "expect is an empty list")
		}
		for i, row := range rows {
			rp := addPath(p, "expect", idxSeg(i))
			if len(row) == 0 {
				v.at(rp, Error, "list the columns to compare: { column = value }", "expected row %d has no columns", i+1)
			}
			for _, col := range sortedAnyKeys(row) {
				switch val := row[col].(type) {
				case string, int64, float64, bool, time.Time:
				default:
					v.at(addPath(rp, col), Error, "row values are strings, integers, floats, booleans or datetimes",
						"expected value of column %q must be a scalar, not %s", col, tomlTypeDesc(val))
				}
			}
		}
	}
}

func sortedAnyKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkReadOnlySQL requires sql to be exactly one read-only statement.
func (v *validator) checkReadOnlySQL(sql string, p []string, what string) {
	if f := sqlTextFault(sql); f != nil {
		v.inText(p, f.Line, 0, Error, f.Hint, "%s: %s", what, f.What)
		return
	}
	stmts, issue := sqlscan.Split(sql)
	if issue != nil {
		v.inText(p, issue.Line, 0, Error, "", "%s: %s", what, issue.What)
		return
	}
	switch {
	case len(stmts) == 0:
		v.at(p, Error, "", "%s: sql has no statement", what)
	case len(stmts) > 1:
		v.inText(p, stmts[1].Line, 0, Error, "split it into several checks", "%s: sql must be a single statement, found %d", what, len(stmts))
	case !sqlscan.ReadOnlyStatement(stmts[0].SQL):
		v.inText(p, stmts[0].Line, 0, Error, "it runs read-only; put writes in a sql step",
			"%s: sql is not a read-only query (%s)", what, strings.Join(sqlscan.FirstWords(stmts[0].SQL, 3), " "))
	}
}

// cleanRel validates a runbook-relative file path and cleans it.
func cleanRel(f string) (string, error) {
	if f == "" {
		return "", errors.New("file is empty")
	}
	if strings.HasPrefix(f, "/") || strings.Contains(f, "\\") || (len(f) > 1 && f[1] == ':') {
		return "", errors.New("file must be a relative path with / separators")
	}
	c := path.Clean(f)
	if c == ".." || strings.HasPrefix(c, "../") || !fs.ValidPath(c) {
		return "", errors.New("file must be inside the runbook directory")
	}
	return c, nil
}
