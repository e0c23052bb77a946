package ui

import (
	"encoding/json"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// A pair partner's screen (Watch, fed with FeedMsg by the share server)
// is the same fold as the session: fed in pieces, redrawn from scratch,
// or both, it shows what a screen given every event at once shows.

func partner(p *steps.Partner) *steps.Partner { return p }

func sharedSession() *fake {
	f := connectStart(true)
	f.add(steps.Event{Type: steps.EvShareOpened, Share: &steps.ShareInfo{Addr: "127.0.0.1:2222", HostKey: "SHA256:h"}})
	f.add(steps.Event{Type: steps.EvPartnerJoined, Partner: partner(&steps.Partner{ID: 1, Name: "bob", Role: steps.RoleApprover, Fingerprint: "SHA256:b"})})
	for i := range 3 {
		f.item(steps.EvItemTicked, "pre-checklist", i, false, "")
	}
	f.on(steps.EvStepSucceeded, "pre-checklist").stepStarted("verify-env")
	return f
}

func stateJSON(t *testing.T, m Model) string {
	t.Helper()
	b, err := json.Marshal(m.State())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFeedIsTheSameFold(t *testing.T) {
	evs := sharedSession().evs
	size := tea.WindowSizeMsg{Width: 100, Height: 30}
	whole := update(New(Options{Mode: Watch, Initial: evs, Viewer: "carol (observer)"}), size)

	pieces := update(New(Options{Mode: Watch, Initial: evs[:3], Viewer: "carol (observer)"}), size)
	for i := 3; i < len(evs); i += 2 {
		pieces = update(pieces, FeedMsg{Events: evs[i:min(i+2, len(evs))]})
	}
	// A partner that fell behind is redrawn with the session so far.
	redrawn := update(New(Options{Mode: Watch, Initial: evs[:2], Viewer: "carol (observer)"}), size)
	redrawn = update(redrawn, FeedMsg{Events: evs, Reset: true})

	want := stateJSON(t, whole)
	for name, m := range map[string]Model{"fed in pieces": pieces, "redrawn": redrawn} {
		if got := stateJSON(t, m); got != want {
			t.Errorf("%s: the fold differs from the session's", name)
		}
		if plain(m) != plain(whole) {
			t.Errorf("%s: the screen differs:\n%s\nwant:\n%s", name, plain(m), plain(whole))
		}
	}
	if redrawn.width != 100 || redrawn.height != 30 {
		t.Errorf("a redraw lost the terminal size: %dx%d", redrawn.width, redrawn.height)
	}
	s := plain(whole)
	mustContain(t, s, "WATCHING as carol (observer) — read-only", "bob watching", "[confirm] Environment verification")
}

// TestFeedClosed: the stream's end makes up no session result (as for a
// journal's follower): after the session ended the badge says so; before,
// the operator's handrail is gone and the partner's clock stops.
func TestFeedClosed(t *testing.T) {
	size := tea.WindowSizeMsg{Width: 100, Height: 30}
	f := sharedSession()
	f.add(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeAborted})
	ended := update(New(Options{Mode: Watch, Initial: f.evs, Viewer: "carol (observer)"}), size)
	ended = update(ended, FeedMsg{Closed: true})
	mustContain(t, plain(ended), "WATCHING as carol (observer) — read-only, ended")
	mustNotContain(t, plain(ended), "GONE")

	m := update(New(Options{Mode: Watch, Initial: sharedSession().evs, Viewer: "carol (observer)"}), size)
	m = update(m, FeedMsg{Closed: true})
	s := plain(m)
	mustContain(t, s, "WATCHING as carol (observer) — operator gone", "OPERATOR'S HANDRAIL IS GONE", "stopped sharing")
	if m.result != nil {
		t.Error("a closed feed made up the session's result")
	}
	if !m.watchStopped() {
		t.Error("the clock of a session whose operator is gone still runs")
	}
	for _, fm := range []Model{ended, m} {
		if fm.canCommand() {
			t.Error("a partner's screen can command the engine")
		}
	}
}

// TestPartnersOnTheOperatorsScreen: the header says the session is shared
// and who watches; a join or leave flashes in the footer.
func TestPartnersOnTheOperatorsScreen(t *testing.T) {
	f := connectStart(true)
	f.add(steps.Event{Type: steps.EvShareOpened, Share: &steps.ShareInfo{Addr: "127.0.0.1:2222"}})
	m, _ := newLive(f)
	m = update(m, tea.WindowSizeMsg{Width: 110, Height: 30})
	mustContain(t, strings.Split(plain(m), "\n")[1], "operator alice · shared, nobody watching ·")

	bob := &steps.Partner{ID: 1, Name: "bob", Role: steps.RoleApprover, Fingerprint: "SHA256:b"}
	m, cmd := updateCmd(m, stepEventMsg{steps.Event{Seq: f.seq + 1, Type: steps.EvPartnerJoined, Partner: bob}})
	if cmd == nil {
		t.Error("the join's flash never expires")
	}
	s := plain(m)
	mustContain(t, strings.Split(s, "\n")[1], "operator alice · bob watching ·")
	mustContain(t, s, "bob (approver) joined, watching")

	carol := &steps.Partner{ID: 2, Name: "carol", Role: steps.RoleObserver}
	m = update(m, stepEventMsg{steps.Event{Seq: f.seq + 2, Type: steps.EvPartnerJoined, Partner: carol}})
	mustContain(t, strings.Split(plain(m), "\n")[1], "bob, carol watching")
	m = update(m, stepEventMsg{steps.Event{Seq: f.seq + 3, Type: steps.EvPartnerLeft, Partner: bob, Text: "connection lost"}})
	s = plain(m)
	mustContain(t, strings.Split(s, "\n")[1], "carol watching")
	mustContain(t, s, "bob (approver) left: connection lost")

	// At 80 columns the facts stay, the labels go.
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	mustContain(t, strings.Split(plain(m), "\n")[1], "alice · 1 watching ·")

	// A session that is not shared says nothing of partners.
	plainSession, _ := newLive(connectStart(true))
	mustNotContain(t, plain(plainSession), "watching", "shared")
}

// TestPartnerNamesAreEscaped: the keys file allows no control character
// in a name, but a journal replayed or watched is input from disk: a
// crafted partner name reaches the screen escaped, in the header and the
// flash alike, and so does the name in a partner's own badge.
func TestPartnerNamesAreEscaped(t *testing.T) {
	f := connectStart(true)
	f.add(steps.Event{Type: steps.EvShareOpened, Share: &steps.ShareInfo{Addr: "127.0.0.1:2222"}})
	m, _ := newLive(f)
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 30})
	evil := &steps.Partner{ID: 1, Name: "eve\x1b]0;pwned\a\x1b[2J", Role: steps.RoleObserver}
	m = update(m, stepEventMsg{steps.Event{Seq: f.seq + 1, Type: steps.EvPartnerJoined, Partner: evil}})
	// The badge on eve's own screen names her: escaped too.
	own := update(New(Options{Mode: Watch, Initial: f.evs, Viewer: evil.Name + " (observer)"}), tea.WindowSizeMsg{Width: 120, Height: 30})
	for name, m := range map[string]Model{"the operator's screen": m, "eve's screen": own} {
		raw := m.View().Content
		for _, bad := range []string{"\x1b]0;pwned", "\a", "\x1b[2J"} {
			if strings.Contains(raw, bad) {
				t.Errorf("%s holds %q raw", name, bad)
			}
		}
	}
	mustContain(t, plain(m), "eve")
	mustContain(t, plain(own), "WATCHING as eve")
}
