package steps

import (
	"errors"
	"sync"
	"testing"

	"github.com/handrail-dev/handrail/db"
)

// Partners joining and leaving a live session are journaled through the
// engine, from other goroutines, while the engine waits for the operator
// and while the autopilot runs the whole runbook; the state and the fold
// of the journal agree, and the session's outcome is what it is without
// partners.
func TestPartnersJoinAndLeaveALiveSession(t *testing.T) {
	t.Parallel()
	_, dsns := demoDatabases(t, db.SandboxOptions{})
	rb := exampleRunbook(t, "connect-rls-hardening")
	eng := NewEngine(Config{Runbook: rb, Sink: func(Event) error { return nil }})
	if err := eng.PartnerJoined(Partner{Name: "early"}); !errors.Is(err, errNotStarted) {
		t.Fatalf("a join before the session started: %v", err)
	}

	r := startEngine(t, Config{Runbook: rb, Target: testTarget(t, dsns["connect_prod"]), Operator: "olga"}, nil)
	r.rec.waitType(t, EvStepStarted)
	alice := Partner{ID: 1, Name: "alice", Role: RoleApprover, Fingerprint: "SHA256:a", Addr: "127.0.0.1:5000"}
	bob := Partner{ID: 2, Name: "bob", Role: RoleObserver, Fingerprint: "SHA256:b", Addr: "127.0.0.1:5001"}
	share := ShareInfo{Addr: "127.0.0.1:2222", HostKey: "SHA256:h", Allowed: []Partner{{Name: "alice"}, {Name: "bob"}}}
	if err := r.e.ShareOpened(share); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, p := range []Partner{alice, bob} {
		wg.Go(func() {
			if err := r.e.PartnerJoined(p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s := r.e.State(); len(s.Partners) != 2 || s.Share == nil || s.Share.Addr != share.Addr {
		t.Fatalf("state after two joins: partners %+v share %+v", s.Partners, s.Share)
	}
	// bob's connection drops while the autopilot runs the session.
	go func() {
		if err := r.e.PartnerLeft(bob, "connection lost"); err != nil {
			t.Error(err)
		}
	}()
	res := r.drive(t, nil)
	if res.outcome != OutcomeSucceeded || res.err != nil {
		t.Fatalf("outcome %s, %v; events:\n%s", res.outcome, res.err, r.rec.dump())
	}
	// After the end (the operator still looks at the summary), alice leaves.
	if err := r.e.PartnerLeft(alice, "left (quit the screen)"); err != nil {
		t.Fatal(err)
	}
	s := r.e.State()
	if len(s.Partners) != 0 {
		t.Errorf("partners after both left: %+v", s.Partners)
	}
	left := r.rec.ofType(EvPartnerLeft)
	if len(left) != 2 || left[0].Partner.Name != "bob" || left[0].Text != "connection lost" || left[1].Partner.Name != "alice" {
		t.Errorf("partner_left events: %+v", left)
	}
	assertFoldMatches(t, r)
}

// TestPartnersFold: joins append, a leave removes that connection only
// (one person may watch from two terminals), a resumed session starts
// with nobody (they belonged to the process that went away).
func TestPartnersFold(t *testing.T) {
	p := func(id int, name string) *Partner { return &Partner{ID: id, Name: name, Role: RoleObserver} }
	s := Fold([]Event{
		{Seq: 1, Type: EvSessionStarted, Session: &SessionInfo{RunbookID: "r"}},
		{Seq: 2, Type: EvShareOpened, Share: &ShareInfo{Addr: "a"}},
		{Seq: 3, Type: EvPartnerJoined, Partner: p(1, "alice")},
		{Seq: 4, Type: EvPartnerJoined, Partner: p(2, "alice")},
		{Seq: 5, Type: EvPartnerJoined, Partner: p(3, "bob")},
		{Seq: 6, Type: EvPartnerLeft, Partner: p(1, "alice"), Text: "quit"},
		{Seq: 7, Type: EvPartnerLeft},
	})
	if len(s.Partners) != 2 || s.Partners[0].ID != 2 || s.Partners[1].Name != "bob" || s.Share == nil {
		t.Fatalf("partners %+v", s.Partners)
	}
	s = Apply(s, Event{Seq: 8, Type: EvSessionResumed, Session: &SessionInfo{Operator: "b"}})
	if s.Partners != nil || s.Share != nil {
		t.Errorf("after resume: partners %+v share %+v", s.Partners, s.Share)
	}
	for _, r := range PartnerRoles {
		if !r.Valid() {
			t.Errorf("%s is not valid", r)
		}
	}
	if PartnerRole("admin").Valid() {
		t.Error("admin is a valid role")
	}
}
