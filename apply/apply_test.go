package apply

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/db"
	"github.com/handrail-dev/handrail/runbooks"
	"github.com/handrail-dev/handrail/steps"
)

func connectRunbook(t testing.TB) *steps.Runbook {
	t.Helper()
	rb, problems := steps.LoadFS(runbooks.FS, "connect-rls-hardening")
	if rb == nil || problems.HasErrors() {
		t.Fatalf("runbook: %v", problems)
	}
	return rb
}

func writeAnswers(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "answers.toml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A question the answers file does not answer, a wrong confirm text, an
// answer to a step the runbook does not have, a missing who or when:
// each is named, all at once, before anything connects.
func TestAnswersValidate(t *testing.T) {
	rb := connectRunbook(t)
	a, err := LoadAnswers(writeAnswers(t, `
[[checklist]]
step = "pre-deploy-checklist"
item = "Change ticket approved and linked in #connect-deploys"
by = "alice"
at = 2026-12-01T09:00:00Z

[[checklist]]
step = "pre-deploy-checklist"
item = "Change ticket approved"
by = "alice"

[[confirm]]
step = "confirm-backup"
text = "backup done"
by = "alice"
at = 2026-12-01T09:00:00Z

[[manual]]
step = "smoke-avatar-upload"
pass = false
by = "bob"
at = 2026-12-01T09:00:00Z

[[manual]]
step = "no-such-step"
pass = true
by = "bob"
at = 2026-12-01T09:00:00Z
`))
	if err != nil {
		t.Fatal(err)
	}
	probs := strings.Join(a.Validate(rb), "\n")
	for _, want := range []string{
		`checklist item "App release that reads business_accounts.is_public is deployed (it tolerates the column missing)" is not answered`,
		`step confirm-target (confirm) is not answered`,
		`step confirm-backup: the answer's text "backup done" is not what the step asks to type ("backup verified")`,
		`step smoke-avatar-upload: a failed manual result needs a note`,
		`step smoke-chat-media-upload (manual) is not answered`,
		`[[checklist]] step pre-deploy-checklist item "Change ticket approved": step pre-deploy-checklist has no such item`,
		`[[checklist]] step pre-deploy-checklist item "Change ticket approved": no at`,
		`[[manual]] step no-such-step: the runbook has no manual step "no-such-step"`,
	} {
		if !strings.Contains(probs, want) {
			t.Errorf("problems lack %q:\n%s", want, probs)
		}
	}
	// The self-ticking items (a query, the staging proof) are not asked.
	if strings.Contains(probs, "block the ALTER TABLEs") || strings.Contains(probs, "Connect-Staging") {
		t.Errorf("a self-ticking item was asked for:\n%s", probs)
	}
	if _, err := LoadAnswers(writeAnswers(t, "[[checklist]]\nstep = \"x\"\nitme = \"y\"\n")); err == nil || !strings.Contains(err.Error(), "unknown keys checklist.itme") {
		t.Errorf("a typo in the answers file must be refused: %v", err)
	}
	st, _ := rb.ForEnv(steps.EnvStaging)
	a = &Answers{Promotion: &PromotionAnswer{Override: "why", By: "a", At: time.Now()}}
	if probs := strings.Join(a.Validate(st), "\n"); !strings.Contains(probs, "no promotion gate to override") {
		t.Errorf("an override for a staging run: %s", probs)
	}
}

func TestSchemaChanges(t *testing.T) {
	was := []db.ObjectPrint{{Name: "a", Hash: "1"}, {Name: "b", Hash: "absent"}, {Name: "c", Hash: "3"}, {Name: "d", Hash: "4"}, {Name: "e", Hash: "5"}}
	now := []db.ObjectPrint{{Name: "a", Hash: "1"}, {Name: "b", Hash: "2"}, {Name: "c", Hash: "absent"}, {Name: "d", Hash: "x"}, {Name: "f", Hash: "6"}}
	got := strings.Join(schemaChanges(was, now), "\n")
	for _, want := range []string{"b: created since the plan", "c: dropped since the plan", "d: definition changed", "f: not in the plan", "e: in the plan, no longer named"} {
		if !strings.Contains(got, want) {
			t.Errorf("changes lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "a:") {
		t.Errorf("an unchanged object is reported:\n%s", got)
	}
	if len(schemaChanges(was, was)) != 0 {
		t.Error("the same fingerprint reports changes")
	}
}

func TestPlanRoundTrip(t *testing.T) {
	p := &Plan{Kind: PlanKind, Format: PlanFormat, Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Runbook: PlanRunbook{ID: "r", Hash: strings.Repeat("a", 64)}, Fingerprint: strings.Repeat("b", 64)}
	path := filepath.Join(t.TempDir(), "plan.json")
	sum, err := writePlan(path, p)
	if err != nil {
		t.Fatal(err)
	}
	got, sum2, err := ReadPlan(path)
	if err != nil || sum2 != sum || got.Runbook.Hash != p.Runbook.Hash || !got.Created.Equal(p.Created) {
		t.Fatalf("ReadPlan = %+v, %s, %v (wrote %s)", got, sum2, err, sum)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(b, []byte(`"kind"`), []byte(`"kinds"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadPlan(path); err == nil {
		t.Error("a plan with an unknown field was accepted")
	}
}

// Data in the progress lines reaches the terminal escaped.
func TestProgressEscapes(t *testing.T) {
	var out bytes.Buffer
	pr := &progress{w: &out}
	pr.event(steps.Event{Type: steps.EvStepFailed, Step: "s\x1b[2J", Error: &steps.ErrorInfo{Message: "boom\x1b]0;owned\x07"}})
	if strings.ContainsRune(out.String(), 0x1b) || strings.ContainsRune(out.String(), 0x07) || !strings.Contains(out.String(), "STEP FAILED: boom") {
		t.Errorf("progress line not escaped: %q", out.String())
	}
	out.Reset()
	pr.json = true
	pr.event(steps.Event{Type: steps.EvNotice, Text: "\x1b[31m"})
	if strings.ContainsRune(out.String(), 0x1b) {
		t.Errorf("JSON line not escaped: %q", out.String())
	}
}

func FuzzLoadAnswers(f *testing.F) {
	f.Add("[[checklist]]\nstep = \"a\"\nitem = \"b\"\nby = \"c\"\nat = 2026-12-01T09:00:00Z\n")
	f.Add("[promotion]\noverride = \"x\"\n[[manual]]\nstep = \"m\"\npass = true\n")
	f.Add("[[confirm]]\nstep = 1\n")
	rb := connectRunbook(f)
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "a.toml")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := LoadAnswers(p)
		if err != nil {
			return
		}
		_ = a.Validate(rb)
	})
}

func FuzzReadPlan(f *testing.F) {
	f.Add(`{"kind":"handrail-plan","format":1,"runbook":{"hash":"x"}}`)
	f.Add(`{"kind":"handrail-plan","format":2}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		p := filepath.Join(t.TempDir(), "p.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		got, _, err := ReadPlan(p)
		if err == nil && (got.Kind != PlanKind || got.Format != PlanFormat) {
			t.Fatalf("accepted a plan of kind %q format %d", got.Kind, got.Format)
		}
	})
}
