package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

var (
	bobApprover = steps.Partner{ID: 1, Name: "bob", Role: steps.RoleApprover, Fingerprint: "SHA256:b"}
	carolWatch  = steps.Partner{ID: 2, Name: "carol", Role: steps.RoleObserver, Fingerprint: "SHA256:c"}
)

// approvalSession: a session that requires one approval, at the schema
// dump (a write) shown and not yet sent, bob (approver) and carol
// (observer) watching.
func approvalSession() *fake {
	f := new(fake).start(true)
	f.evs[0].Session.ApprovalRequired = 1
	f.verified()
	f.add(steps.Event{Type: steps.EvShareOpened, Share: &steps.ShareInfo{Addr: "127.0.0.1:2222"}})
	f.add(steps.Event{Type: steps.EvPartnerJoined, Partner: partner(&bobApprover)})
	f.add(steps.Event{Type: steps.EvPartnerJoined, Partner: partner(&carolWatch)})
	f.stepStarted("pg-dump")
	return f.add(steps.Event{Type: steps.EvStepWouldRun, Step: "pg-dump",
		Statements: steps.ListOf([]steps.StatementInfo{{Count: 1, SQL: "pg_dump --schema-only -f before.sql"}})})
}

// partnerScreen is p's screen over SSH at 100x30.
func partnerScreen(f *fake, p steps.Partner) (Model, *recorder) {
	rec := &recorder{}
	m := New(Options{Mode: Watch, Initial: f.evs, Viewer: p.Label(), Partner: &p, Send: rec.send,
		Now: func() time.Time { return t0.Add(f.mono) }})
	return update(m, tea.WindowSizeMsg{Width: 100, Height: 30}), rec
}

func footer(m Model) string {
	lines := strings.Split(plain(m), "\n")
	return strings.Join(lines[len(lines)-2:], "\n")
}

// An approver approves on their own screen by typing the project id:
// the keys are State.AcceptsFrom's, and what is sent is what the engine
// admits from this partner.
func TestApproverApprovesByTypingTheProjectID(t *testing.T) {
	m, rec := partnerScreen(approvalSession(), bobApprover)
	s := plain(m)
	mustContain(t, s, "WATCHING as bob (approver)", "APPROVAL of step pg-dump: 0 of 1; missing 1: waiting for bob",
		"Connect-Prod", prodID, "pg_dump --schema-only")
	mustContain(t, footer(m), "a approve the write", "h hold")
	mustNotContain(t, footer(m), "ask for ROLLBACK", "release")

	m = update(m, keyMsg("a"))
	mustContain(t, plain(m), "to approve the write of step pg-dump to Connect-Prod, type")
	m = typeText(m, prodID)
	m = update(m, keyMsg("enter"))
	want := steps.Command{Type: steps.CmdApprove, Step: "pg-dump", Text: prodID}
	if len(rec.cmds) != 1 || rec.cmds[0] != want {
		t.Fatalf("sent %+v, want %+v", rec.cmds, want)
	}
	c := rec.cmds[0]
	c.By = &bobApprover
	st := m.State()
	if why, ok := st.Admit(c); !ok {
		t.Fatalf("the engine would refuse the approval: %s", why)
	}
	// esc leaves the question without sending anything.
	m = update(m, keyMsg("a"), keyMsg("x"), keyMsg("esc"))
	if len(rec.cmds) != 1 {
		t.Fatalf("esc sent %+v", rec.cmds[1:])
	}

	p := bobApprover
	m = feed(m, steps.Event{Seq: m.State().Seq + 1, Type: steps.EvApprovalGiven, Step: "pg-dump", Partner: &p})
	mustContain(t, plain(m), "APPROVAL of step pg-dump: 1 of 1; approved by bob")
	mustNotContain(t, footer(m), "a approve")
}

// Hold and release are one key, h, whichever the engine takes now; R
// asks the operator for the rollback once something was written.
func TestApproverHoldsReleasesAndAsksRollback(t *testing.T) {
	m, rec := partnerScreen(approvalSession(), bobApprover)
	m = update(m, keyMsg("R"))
	if len(rec.cmds) != 0 {
		t.Fatalf("R before any write sent %+v", rec.cmds)
	}
	m = update(m, keyMsg("?"))
	mustContain(t, plain(m), "nothing has been written yet")
	m = update(m, keyMsg("?"), keyMsg("h"))
	if len(rec.cmds) != 1 || rec.cmds[0].Type != steps.CmdHold {
		t.Fatalf("h sent %+v", rec.cmds)
	}
	p := bobApprover
	m = feed(m, steps.Event{Seq: m.State().Seq + 1, Type: steps.EvHoldPlaced, Partner: &p})
	mustContain(t, plain(m), "HELD by bob: no write starts until released")
	mustContain(t, footer(m), "h release the hold")
	m = update(m, keyMsg("h"))
	if len(rec.cmds) != 2 || rec.cmds[1].Type != steps.CmdRelease {
		t.Fatalf("h while holding sent %+v", rec.cmds)
	}
	m = feed(m, steps.Event{Seq: m.State().Seq + 1, Type: steps.EvHoldReleased, Partner: &p},
		steps.Event{Seq: m.State().Seq + 2, Type: steps.EvIntent, Step: "pg-dump"})
	mustNotContain(t, plain(m), "HELD")
	mustContain(t, footer(m), "R ask for ROLLBACK")
	update(m, keyMsg("R"))
	if len(rec.cmds) != 3 || rec.cmds[2].Type != steps.CmdAskRollback {
		t.Fatalf("R after a write sent %+v", rec.cmds)
	}
}

// An observer's screen sends nothing: its keys are refused with the
// engine's reason, shown in the help.
func TestObserverSendsNothing(t *testing.T) {
	m, rec := partnerScreen(approvalSession(), carolWatch)
	m = update(m, keyMsg("a"), keyMsg("h"), keyMsg("R"), keyMsg("enter"), keyMsg("space"))
	if len(rec.cmds) != 0 {
		t.Fatalf("an observer's keys sent %+v", rec.cmds)
	}
	mustNotContain(t, footer(m), "approve", "hold")
	m = update(m, keyMsg("?"))
	mustContain(t, plain(m), "carol is an observer")
	// Nor does a screen without Send (a journal's watcher) send anything.
	w := update(New(Options{Mode: Watch, Initial: approvalSession().evs, Partner: partner(&bobApprover)}), tea.WindowSizeMsg{Width: 100, Height: 30})
	w = update(w, keyMsg("a"))
	if w.screen() == screenInput {
		t.Fatal("a watcher without Send opened the approval question")
	}
}

// The operator's screen shows who approved and who is missing, and an
// approver's request for the rollback opens the rollback dialog.
func TestOperatorSeesApprovalAndRollbackRequest(t *testing.T) {
	f := approvalSession()
	f.add(steps.Event{Type: steps.EvApprovalRequired, Step: "pg-dump", Text: "needs 1 more approval(s) of 1"})
	m, rec := newLive(f)
	mustContain(t, plain(m), "APPROVAL of step pg-dump: 0 of 1; missing 1: waiting for bob")
	m = update(m, keyMsg("enter"))
	m = answer(m, rec)
	mustContain(t, plain(m), "waits")
	p := bobApprover
	m = feed(m, steps.Event{Seq: m.State().Seq + 1, Type: steps.EvApprovalGiven, Step: "pg-dump", Partner: &p},
		steps.Event{Seq: m.State().Seq + 2, Type: steps.EvIntent, Step: "pg-dump"},
		steps.Event{Seq: m.State().Seq + 3, Type: steps.EvStepSucceeded, Step: "pg-dump"},
		steps.Event{Seq: m.State().Seq + 4, Type: steps.EvStepStarted, Step: "apply-001"})
	mustContain(t, plain(m), "APPROVAL of step apply-001: 0 of 1")
	m = feed(m, steps.Event{Seq: m.State().Seq + 1, Type: steps.EvRollbackProposed, Partner: &p})
	if m.screen() != screenRollbackDialog {
		t.Fatalf("rollback_proposed did not open the dialog:\n%s", plain(m))
	}
}

// The questions only the operator answers (typed consent, the promotion
// gate) are read-only on a partner's screen: its keys stay the partner's
// (an approver can approve while the operator types the consent), no
// input box takes them, and the footer offers nothing the partner cannot
// send.
func TestPartnerSeesOperatorQuestionsReadOnly(t *testing.T) {
	for _, q := range []steps.EventType{steps.EvConsentRequired, steps.EvPromotionRequired} {
		t.Run(string(q), func(t *testing.T) {
			f := approvalSession().on(q, "pg-dump")
			m, rec := partnerScreen(f, bobApprover)
			s := plain(m)
			mustContain(t, s, watchingAnswer)
			mustNotContain(t, footer(m), "enter", "override")
			mustContain(t, footer(m), "h hold")

			m = typeText(m, "xyz")
			m = update(m, keyMsg("enter"))
			mustNotContain(t, plain(m), "xyz")
			if len(rec.cmds) != 0 {
				t.Fatalf("a partner's typing at the operator's question sent %+v", rec.cmds)
			}
			m = update(m, keyMsg("h"))
			if len(rec.cmds) != 1 || rec.cmds[0].Type != steps.CmdHold {
				t.Fatalf("h at the operator's question sent %+v, want a hold", rec.cmds)
			}
			if st := m.State(); st.AcceptsFrom(&bobApprover, steps.CmdApprove).OK {
				m = update(m, keyMsg("a"))
				mustContain(t, plain(m), "to approve the write of step pg-dump")
			}
		})
	}
}

// A plain watcher (no partner, no commands) sees the operator's questions
// without an input to type into.
func TestWatcherSeesConsentReadOnly(t *testing.T) {
	f := approvalSession().on(steps.EvConsentRequired, "pg-dump")
	m := update(New(Options{Mode: Watch, Initial: f.evs, Now: func() time.Time { return t0.Add(f.mono) }}),
		tea.WindowSizeMsg{Width: 100, Height: 30})
	m = typeText(m, "xyz")
	s := plain(m)
	mustContain(t, s, "PRODUCTION: TYPED CONSENT", watchingAnswer)
	mustNotContain(t, s, "xyz")
	mustNotContain(t, footer(m), "enter")
}

// A refused command says whose it was on a screen that did not send it:
// a partner's wrong project id on the operator's and other partners'
// screens, the operator's refused key on a partner's.
func TestRefusalNamesWhoseCommandItWas(t *testing.T) {
	refused := func(f *fake, p *steps.Partner, typ steps.CommandType) *fake {
		return f.add(steps.Event{Type: steps.EvCommandRefused, Partner: p,
			Command: &steps.CommandInfo{Type: typ, Step: "pg-dump"}, Text: "the project id typed is not this target's"})
	}
	op, _ := newLive(refused(approvalSession(), partner(&bobApprover), steps.CmdApprove))
	mustContain(t, footer(op), "bob's approve refused")
	own, _ := partnerScreen(refused(approvalSession(), partner(&bobApprover), steps.CmdApprove), bobApprover)
	mustContain(t, footer(own), "approve refused")
	mustNotContain(t, footer(own), "bob's")
	other, _ := partnerScreen(refused(approvalSession(), partner(&bobApprover), steps.CmdApprove), carolWatch)
	mustContain(t, footer(other), "bob's approve refused")
	fromOp, _ := partnerScreen(refused(approvalSession(), nil, steps.CmdNext), bobApprover)
	mustContain(t, footer(fromOp), "the operator's next refused")
}

// A write needing more approvers than are connected says how many more
// must join, not only "waiting for bob" (which reads as if bob's approval
// were enough).
func TestApprovalLineSaysMoreMustJoin(t *testing.T) {
	f := approvalSession()
	f.evs[0].Session.ApprovalRequired = 2
	m, _ := newLive(f)
	mustContain(t, strings.Join(strings.Fields(plain(m)), " "), "APPROVAL of step pg-dump: 0 of 2; missing 2: waiting for bob and 1 more approver(s) to join")
	st := m.State()
	if w := st.WriteWaitFor("pg-dump"); !strings.Contains(w, "waiting for bob and 1 more approver(s) to join") {
		t.Errorf("the engine's reason: %q", w)
	}
}

// A rollback dialog that opens by itself (an approver's proposal, the
// engine's offer after a failed check) takes only y: the operator's enter,
// typed for the step as the dialog appeared, never rolls back. One the
// operator opened with R takes y or enter, as before.
func TestUnbiddenRollbackDialogTakesOnlyY(t *testing.T) {
	f := toApply().on(steps.EvStepSucceeded, "apply-001")
	f.add(steps.Event{Type: steps.EvRollbackProposed, Partner: partner(&bobApprover), Text: "the error rate doubled"})
	m, rec := newLive(f)
	if m.screen() != screenRollbackDialog {
		t.Fatalf("the proposal opens the rollback dialog on the operator's screen: screen %v", m.screen())
	}
	mustContain(t, plain(m), "y roll back now", "proposed by: bob (approver)")
	mustNotContain(t, plain(m), "y/enter")
	m = update(m, press("enter")...)
	if len(rec.cmds) != 0 || m.screen() != screenRollbackDialog {
		t.Fatalf("enter on a proposed rollback: commands %+v, screen %v; want nothing sent, the dialog still open", rec.cmds, m.screen())
	}
	m = update(m, press("y")...)
	if len(rec.cmds) != 1 || rec.cmds[0].Type != steps.CmdRollback || !strings.Contains(rec.cmds[0].Text, "proposed by bob (approver)") || m.screen() == screenRollbackDialog {
		t.Fatalf("y on a proposed rollback: %+v, screen %v", rec.cmds, m.screen())
	}

	m, rec = newLive(toApply().on(steps.EvStepSucceeded, "apply-001"))
	m = update(m, press("R")...)
	mustContain(t, plain(m), "y/enter")
	update(m, press("enter")...)
	if len(rec.cmds) != 1 || rec.cmds[0].Type != steps.CmdRollback {
		t.Fatalf("enter on the rollback dialog the operator opened: %+v", rec.cmds)
	}
}

// The engine's refusal of the operator's key while a write waits for
// approval tells the operator what they may do meanwhile; a partner's
// or a watcher's screen says it of the operator ("you may quit
// meanwhile" there read as addressed to the partner).
func TestOperatorsRefusalInTheThirdPersonOnWatchingScreens(t *testing.T) {
	for _, wrote := range []bool{false, true} {
		f := new(fake).start(true)
		f.evs[0].Session.ApprovalRequired = 1
		f.verified()
		f.add(steps.Event{Type: steps.EvShareOpened, Share: &steps.ShareInfo{Addr: "127.0.0.1:2222"}})
		f.add(steps.Event{Type: steps.EvPartnerJoined, Partner: partner(&bobApprover)})
		if wrote { // something to roll back: the operator may roll back too
			f.stepStarted("apply-001").on(steps.EvIntent, "apply-001").on(steps.EvStepSucceeded, "apply-001")
		}
		f.stepStarted("pg-dump").on(steps.EvApprovalRequired, "pg-dump")
		st := steps.Fold(f.evs)
		reason := st.Accepts(steps.CmdNext).Reason
		f.add(steps.Event{Type: steps.EvCommandRefused, Command: &steps.CommandInfo{Type: steps.CmdNext, Step: "pg-dump"}, Text: reason})
		want := map[bool]string{false: "may quit meanwhile", true: "may quit or roll back meanwhile"}[wrote]
		op, _ := newLive(f)
		mustContain(t, screenText(op), "next refused: the write of step pg-dump waits", "; you "+want)
		bob, _ := partnerScreen(f, bobApprover)
		for name, m := range map[string]Model{"partner": bob, "watch": newWatch(f)} {
			s := screenText(m)
			mustContain(t, s, "the operator's next refused: the write of step pg-dump waits", "; the operator "+want)
			if strings.Contains(s, "you may") {
				t.Errorf("%s screen (wrote %v) addresses the operator's refusal to its viewer:\n%s", name, wrote, s)
			}
		}
	}
}

// screenText is the whole screen with its line breaks and runs of spaces
// as one space.
func screenText(m Model) string { return strings.Join(strings.Fields(plain(m)), " ") }
