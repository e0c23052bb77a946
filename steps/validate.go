package steps

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
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

func kindNames() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// commonStepKeys apply to every step kind.
var commonStepKeys = []string{"kind", "id", "title", "notes"}

// kindKeys lists the keys each step kind accepts besides commonStepKeys.
// A new Step field must be added here too (TestEveryStepKeyHasAKind).
var kindKeys = map[Kind][]string{
	KindChecklist: {"items"},
	KindConfirm:   {"prompt", "type"},
	KindSQL:       {"file", "statements", "transaction"},
	KindCheck:     {"sql", "expect", "expect_rows", "expect_empty", "report", "as_role", "settings", "on_fail"},
	KindManual:    {"on_fail"},
	KindMonitor:   {"duration", "every", "queries", "watch"},
	KindExec:      {"command", "timeout"},
	KindMessage:   {"message"},
}

// StepKeys returns the keys a step of kind k accepts, the common ones
// first (nil for an unknown kind). The reference documentation and the
// JSON Schema are built from it.
func StepKeys(k Kind) []string {
	own, ok := kindKeys[k]
	if !ok {
		return nil
	}
	return append(append([]string{}, commonStepKeys...), own...)
}

// kindsWithKey names the kinds that accept key, for hints.
func kindsWithKey(key string) []string {
	var out []string
	for _, k := range Kinds {
		for _, kk := range kindKeys[k] {
			if kk == key {
				out = append(out, string(k))
			}
		}
	}
	return out
}

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
}

func newValidator(r *Runbook) *validator {
	w := r.where
	if w == nil {
		w = codeWhere{r}
	}
	if r.files == nil {
		r.files = map[string][]byte{}
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
	v.validateSettings(r)
	msgIDs := v.validateMessages(r)

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
		v.validateStep(r, ref, msgIDs)
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

var supabaseRef = regexp.MustCompile(`^[a-z]{20}$`)

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
	if contains(t.Identity, IdentitySupabase) && t.ProjectID != "" && !supabaseRef.MatchString(t.ProjectID) &&
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
	return template.New(m.ID).Option("missingkey=error").Parse(m.Body)
}

var templateLine = regexp.MustCompile(`^template: [^:]*:(\d+):\s*(.*)$`)

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
			if sm := templateLine.FindStringSubmatch(msg); sm != nil {
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

func kindStrings() []string {
	out := make([]string, len(Kinds))
	for i, k := range Kinds {
		out[i] = string(k)
	}
	return out
}

func (v *validator) validateStep(r *Runbook, ref stepRef, msgIDs map[string]bool) {
	s, p := ref.s, ref.p
	pres, ok := v.w.keys(p)
	if !ok { // not a table; already reported
		return
	}
	what := fmt.Sprintf("step %q", s.ID)
	if !pres["kind"] {
		v.at(p, Error, "one of "+kindNames(), "%s has no kind", what)
		return
	}
	if s.Kind == "" { // bad type, already reported
		return
	}
	if !contains(kindStrings(), string(s.Kind)) {
		hint := ""
		if c := closest(string(s.Kind), kindStrings()); c != "" {
			hint = fmt.Sprintf("did you mean %q?", c)
		}
		v.at(addPath(p, "kind"), Error, hint, "unknown step kind %q (one of %s)", s.Kind, kindNames())
		return
	}
	// Keys that do not belong to this kind.
	allowed := append(append([]string{}, commonStepKeys...), kindKeys[s.Kind]...)
	for _, key := range sortedKeys(pres) {
		if contains(allowed, key) {
			continue
		}
		if _, known := stepFields[key]; !known {
			continue // unknown key, already reported
		}
		hint := ""
		if ks := kindsWithKey(key); len(ks) > 0 {
			hint = fmt.Sprintf("%q belongs to %s steps", key, strings.Join(ks, "/"))
		}
		if s.Kind == KindSQL && key == "sql" {
			hint = `a sql step runs file = "..." or statements = ["..."]`
		}
		if s.Kind == KindCheck && (key == "file" || key == "statements") {
			hint = `a check runs one read-only query: sql = "select ..."`
		}
		v.at(addPath(p, key), Error, hint, "%q does not apply to %s steps", key, s.Kind)
	}
	has := func(k string) bool { return pres[k] }
	req := func(k string, ok bool, hint string) {
		if !ok && !v.bad(addPath(p, k)) {
			v.at(p, Error, hint, "%s step %q needs %s", s.Kind, s.ID, k)
		}
	}
	switch s.Kind {
	case KindChecklist:
		if len(s.Items) == 0 && !v.bad(addPath(p, "items")) {
			v.at(p, Error, `items = [{ text = "..." }]`, "checklist step %q has no items", s.ID)
		}
		for i, it := range s.Items {
			v.validateItem(it, addPath(p, "items", idxSeg(i)))
		}
	case KindConfirm:
		req("prompt", strings.TrimSpace(s.Prompt) != "", `prompt = "Backup taken and verified?"`)
	case KindSQL:
		v.validateSQLStep(r, ref)
	case KindCheck:
		req("sql", strings.TrimSpace(s.SQL) != "", `sql = "select ..."`)
		if s.SQL != "" {
			v.checkReadOnlySQL(s.SQL, addPath(p, "sql"), what)
			r.stmtBase[s.ID] = []int{v.w.textBase(addPath(p, "sql"))}
		}
		if s.Report {
			for _, k := range []string{"expect", "expect_rows", "expect_empty"} {
				if v.has(p, k) {
					v.at(addPath(p, k), Error, "report = true shows the rows and always passes; remove one of them",
						"%s has report = true and %s", what, k)
				}
			}
		} else if !v.bad(addPath(p, "report")) {
			v.validateExpect(p, s.Expect, s.ExpectRows, s.ExpectEmpty, what)
		}
		if has("as_role") && strings.TrimSpace(s.AsRole) == "" {
			v.at(addPath(p, "as_role"), Error, "", "as_role is empty")
		}
		if s.OnFail != "" && !contains(OnFailValues, s.OnFail) {
			v.at(addPath(p, "on_fail"), Error, "one of "+strings.Join(OnFailValues, ", "), "unknown on_fail %q", s.OnFail)
		}
	case KindManual:
		if s.OnFail != "" && !contains(OnFailValues, s.OnFail) {
			v.at(addPath(p, "on_fail"), Error, "one of "+strings.Join(OnFailValues, ", "), "unknown on_fail %q", s.OnFail)
		}
	case KindMonitor:
		dur, every := s.Duration.Duration, s.Every.Duration
		req("duration", has("duration"), `duration = "15m"`)
		req("every", has("every"), `every = "30s"`)
		if has("duration") && dur <= 0 && !v.bad(addPath(p, "duration")) {
			v.at(addPath(p, "duration"), Error, "", "duration must be positive")
		}
		if has("every") && every <= 0 && !v.bad(addPath(p, "every")) {
			v.at(addPath(p, "every"), Error, "", "every must be positive")
		}
		if dur > 0 && every > dur {
			v.at(addPath(p, "every"), Error, "", "every (%s) is longer than duration (%s)", every, dur)
		}
		if len(s.Queries) == 0 && len(s.Watch) == 0 && !v.bad(addPath(p, "queries")) && !v.bad(addPath(p, "watch")) {
			v.at(p, Error, `add [[phase.step.queries]] with title and sql, or watch = ["..."]`, "monitor step %q has nothing to watch", s.ID)
		}
		if len(s.Queries) > MaxMonitorQueries {
			v.at(addPath(p, "queries"), Error, "split the monitor into several steps", "monitor step %q has %d queries; at most %d are allowed", s.ID, len(s.Queries), MaxMonitorQueries)
		}
		for i, q := range s.Queries {
			qp := addPath(p, "queries", idxSeg(i))
			if strings.TrimSpace(q.SQL) == "" {
				v.at(qp, Error, `sql = "select ..."`, "monitor query has no sql")
			} else {
				v.checkReadOnlySQL(q.SQL, addPath(qp, "sql"), "monitor query")
			}
			if q.Alert != "" {
				if _, err := ParseAlert(q.Alert); err != nil {
					v.at(addPath(qp, "alert"), Error, `e.g. alert = "waiting > 0"`, "bad alert: %v", err)
				}
			}
		}
	case KindExec:
		req("command", strings.TrimSpace(s.Command) != "", `command = "pg_dump ..."`)
		if s.Timeout.Duration < 0 {
			v.at(addPath(p, "timeout"), Error, "", "timeout must not be negative")
		}
	case KindMessage:
		req("message", s.Message != "", `message = "<id of a [[messages]] entry>"`)
		if s.Message != "" && !msgIDs[s.Message] {
			hint := "define it in [[messages]]"
			if len(msgIDs) > 0 {
				hint = "known messages: " + strings.Join(sortedKeys(msgIDs), ", ")
			}
			v.at(addPath(p, "message"), Error, hint, "no message with id %q", s.Message)
		}
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

func (v *validator) validateItem(it Item, p []string) {
	if strings.TrimSpace(it.Text) == "" && !v.bad(addPath(p, "text")) {
		v.at(p, Error, `items = [{ text = "..." }]`, "checklist item has no text")
	}
	hasExpect := len(it.Expect) > 0 || it.ExpectRows != nil || it.ExpectEmpty || v.has(p, "expect")
	if it.StagingProof && (it.SQL != "" || hasExpect) {
		v.at(addPath(p, "staging_proof"), Error, "a staging_proof item ticks itself from the staging journal; remove sql and expect",
			"checklist item has both staging_proof and a query")
		return
	}
	if it.SQL == "" {
		if hasExpect {
			v.at(p, Error, "a self-ticking item needs both sql and expect", "checklist item has expect but no sql")
		}
		return
	}
	v.checkReadOnlySQL(it.SQL, addPath(p, "sql"), "checklist item")
	v.validateExpect(p, it.Expect, it.ExpectRows, it.ExpectEmpty, "checklist item")
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
	case !sqlscan.IsReadOnly(stmts[0].SQL):
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

func (v *validator) validateSQLStep(r *Runbook, ref stepRef) {
	s, p := ref.s, ref.p
	hasFile, hasStmts := v.has(p, "file"), v.has(p, "statements")
	switch {
	case hasFile && hasStmts:
		v.at(addPath(p, "statements"), Error, "keep one of them", "sql step %q has both file and statements", s.ID)
		return
	case !hasFile && !hasStmts:
		v.at(p, Error, `file = "migrations/001.sql" or statements = ["..."]`, "sql step %q needs file or statements", s.ID)
		return
	}
	srcs, ok := v.sqlSources(ref, hasFile)
	if !ok {
		return
	}
	count, notText := 0, false
	for _, sc := range srcs {
		n, text := v.checkSQLSource(s, sc)
		count += n
		notText = notText || !text
	}
	if count == 0 && hasFile && !notText {
		v.at(addPath(p, "file"), Error, "", "%s contains no SQL statements", r.showPath(s.File))
	}
}

// sqlSource is one SQL text of a sql step: its file, or one string of
// its statements list.
type sqlSource struct {
	rel   string // the file, runbook-relative ("" for inline SQL)
	text  string
	where []string // the key it comes from
}

// atSource adds a problem at a line (1-based) and column of a SQL text.
func (v *validator) atSource(sc sqlSource, line, col int, sev Severity, hint, format string, args ...any) {
	if sc.rel != "" {
		v.inFile(sc.rel, line, col, sev, hint, format, args...)
		return
	}
	v.inText(sc.where, line, col, sev, hint, format, args...)
}

// sqlSources reads a sql step's file (keeping it in r, so that what is
// validated and hashed is what runs) or lists its inline statements.
func (v *validator) sqlSources(ref stepRef, hasFile bool) ([]sqlSource, bool) {
	r, s, p := v.r, ref.s, ref.p
	if hasFile {
		fp := addPath(p, "file")
		if v.bad(fp) {
			return nil, false
		}
		rel, err := cleanRel(s.File)
		if err != nil {
			v.at(fp, Error, "paths are relative to the runbook directory", "%v: %q", err, s.File)
			return nil, false
		}
		s.File = rel
		data, ok := r.files[rel]
		if !ok {
			data, err = r.readFile(rel)
			if err != nil {
				msg := "cannot read"
				if errors.Is(err, fs.ErrNotExist) {
					msg = "no such file"
				}
				v.at(fp, Error, "paths are relative to the runbook directory "+r.showPath("."), "%s: %s", msg, r.showPath(rel))
				return nil, false
			}
			r.files[rel] = data
		}
		return []sqlSource{{rel: rel, text: string(data), where: fp}}, true
	}
	sp := addPath(p, "statements")
	if v.bad(sp) {
		return nil, false
	}
	if len(s.Statements) == 0 {
		v.at(sp, Error, "", "sql step %q has an empty statements list", s.ID)
		return nil, false
	}
	var srcs []sqlSource
	var bases []int
	for i, text := range s.Statements {
		ep := addPath(sp, idxSeg(i))
		bases = append(bases, v.w.textBase(ep))
		srcs = append(srcs, sqlSource{text: text, where: ep})
	}
	r.stmtBase[s.ID] = bases
	return srcs, true
}

// checkSQLSource splits one SQL text and checks its statements: text
// PostgreSQL can read, no psql meta-commands, and, in a transactional
// step, nothing that cannot run or would end the transaction. It returns
// how many statements the text holds, and false when it is not text.
func (v *validator) checkSQLSource(s *Step, sc sqlSource) (int, bool) {
	if f := sqlTextFault(sc.text); f != nil {
		col := f.Col
		if sc.rel == "" {
			col = 0 // escapes in a TOML string make the column unknowable
		}
		v.atSource(sc, f.Line, col, Error, f.Hint, "%s", f.What)
		return 0, false
	}
	stmts, issue := sqlscan.Split(sc.text)
	if sc.rel != "" && v.r.splits != nil {
		// StepStatements answers from this: a long migration is
		// split once, not again for the plan and for the run.
		cached := slices.Clone(stmts)
		for i := range cached {
			cached[i].File = sc.rel
		}
		v.r.splits[sc.rel] = cached
	}
	li := sqlscan.NewLineIndex(sc.text)
	if issue != nil {
		v.atSource(sc, issue.Line, li.Col(issue.Offset), Error,
			"the rest of the script would be swallowed into one statement", "%s", issue.What)
	}
	if len(stmts) == 0 && sc.rel == "" {
		v.at(sc.where, Error, "", "statement is empty")
	}
	for _, st := range stmts {
		v.checkStatement(s, sc, st, li.Col(st.Offset))
	}
	return len(stmts), true
}

// checkStatement checks one statement of a sql step.
func (v *validator) checkStatement(s *Step, sc sqlSource, st Statement, col int) {
	if strings.HasPrefix(st.SQL, `\`) {
		v.atSource(sc, st.Line, col, Error, "handrail sends statements to the server; psql meta-commands cannot run",
			"psql meta-command %s", strings.Fields(st.SQL)[0])
		return
	}
	if !s.IsTransactional() {
		return
	}
	if reason := sqlscan.NoTransactionReason(st.SQL); reason != "" {
		v.atSource(sc, st.Line, col, Error, fmt.Sprintf("set transaction = false on step %s", s.ID), "%s", reason)
	}
	if tc := sqlscan.TransactionControl(st.SQL); tc != "" {
		v.atSource(sc, st.Line, col, Error,
			fmt.Sprintf("remove it: step %s already runs in one transaction (or set transaction = false)", s.ID),
			"%s inside a transactional step would end handrail's transaction early", tc)
	}
}

// Alert is a parsed monitor alert condition: Column Op Value.
type Alert struct {
	Column string
	Op     string // one of > >= < <= = !=
	Value  string
}

var alertOps = []string{">=", "<=", "!=", "<>", "=", ">", "<"}

// ParseAlert parses "column op value", e.g. "waiting > 0".
func ParseAlert(s string) (Alert, error) {
	for i := 0; i < len(s); i++ {
		for _, op := range alertOps {
			if strings.HasPrefix(s[i:], op) {
				a := Alert{Column: strings.TrimSpace(s[:i]), Op: op, Value: strings.TrimSpace(s[i+len(op):])}
				if a.Op == "<>" {
					a.Op = "!="
				}
				if a.Column == "" || a.Value == "" || strings.ContainsAny(a.Column, " \t") {
					return Alert{}, fmt.Errorf("%q is not \"column op value\"", s)
				}
				return a, nil
			}
		}
	}
	return Alert{}, fmt.Errorf("%q has no operator (> >= < <= = !=)", s)
}
