package share

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/handrail-dev/handrail/steps"
)

// These tests run the share server on 127.0.0.1 and connect with Go's SSH
// client (golang.org/x/crypto/ssh). The end-to-end tests in the main
// package do the same with OpenSSH in a real terminal.

const serverWait = 15 * time.Second

// recorder stands in for the engine: it records what the server reports
// and, like the real sink, publishes each fact as the next event.
type recorder struct {
	mu       sync.Mutex
	srv      *Server
	seq      int64
	events   []steps.Event
	joinErr  error
	changed  chan struct{}
	shareErr error
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) emit(e steps.Event) {
	r.mu.Lock()
	r.seq++
	e.Seq = r.seq
	e.Mono = time.Duration(r.seq) * time.Millisecond
	r.events = append(r.events, e)
	r.srv.Publish(e)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) ShareOpened(s steps.ShareInfo) error {
	if r.shareErr != nil {
		return r.shareErr
	}
	r.emit(steps.Event{Type: steps.EvShareOpened, Share: &s})
	return nil
}

func (r *recorder) PartnerJoined(p steps.Partner) error {
	if r.joinErr != nil {
		return r.joinErr
	}
	r.emit(steps.Event{Type: steps.EvPartnerJoined, Partner: &p})
	return nil
}

func (r *recorder) PartnerLeft(p steps.Partner, why string) error {
	r.emit(steps.Event{Type: steps.EvPartnerLeft, Partner: &p, Text: why})
	return nil
}

// PartnerSend records what a partner's screen sent, as a command_refused
// naming the partner (the recorder decides nothing).
func (r *recorder) PartnerSend(p steps.Partner, c steps.Command) {
	r.emit(steps.Event{Type: steps.EvCommandRefused, Command: &steps.CommandInfo{Type: c.Type, Step: c.Step, By: &p}, Text: "recorded"})
}

func (r *recorder) ofType(typ steps.EventType) []steps.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []steps.Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits until the recorder holds n events of typ.
func (r *recorder) waitFor(t *testing.T, typ steps.EventType, n int) []steps.Event {
	t.Helper()
	deadline := time.After(serverWait)
	for {
		if evs := r.ofType(typ); len(evs) >= n {
			return evs
		}
		select {
		case <-r.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited %s for %d %s events; have %d", serverWait, n, typ, len(r.ofType(typ)))
		}
	}
}

// partnerKey is a partner's private key and its keys-file line.
type partnerKey struct {
	signer gossh.Signer
	line   string
}

func newPartnerKey(t *testing.T, comment string) partnerKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return partnerKey{s, strings.TrimSuffix(string(gossh.MarshalAuthorizedKey(s.PublicKey())), "\n") + " " + comment}
}

// startServer runs a share server for the given partners and starts a
// session (session_started, one checklist step).
func startServer(t *testing.T, cfg Config, partners ...partnerKey) (*Server, *recorder) {
	t.Helper()
	srv, rec := startServerWith(t, newRecorder(), cfg, partners...)
	rec.waitFor(t, steps.EvShareOpened, 1)
	return srv, rec
}

func startServerWith(t *testing.T, rec *recorder, cfg Config, partners ...partnerKey) (*Server, *recorder) {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for _, p := range partners {
		lines = append(lines, p.line)
	}
	cfg.KeysFile = filepath.Join(dir, "keys")
	if err := os.WriteFile(cfg.KeysFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.HostKeyFile = filepath.Join(dir, HostKeyName)
	srv, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec.srv = srv
	srv.Start(rec, nil, "")
	t.Cleanup(func() { srv.Close("test over") })
	plan := []steps.PlannedStep{{ID: "pre", Title: "Pre-deployment checklist", Kind: steps.KindChecklist, Phase: "Pre", Items: []string{"Ticket approved"}},
		{ID: "dump", Title: "Schema dump", Kind: steps.KindExec, Phase: "Pre", Writes: true}}
	rec.emit(steps.Event{Type: steps.EvSessionStarted, Session: &steps.SessionInfo{RunbookID: "r", RunbookTitle: "Shared runbook", TargetName: "Prod", ProjectID: "abc", Operator: "olga", Plan: plan}})
	rec.emit(steps.Event{Type: steps.EvStepStarted, Step: "pre"})
	return srv, rec
}

func dial(srv *Server, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	return gossh.Dial("tcp", srv.Addr(), &gossh.ClientConfig{
		User: "partner", Auth: auth, Timeout: serverWait,
		HostKeyCallback: gossh.FixedHostKey(srv.HostKey().Signer.PublicKey()),
	})
}

func mustDial(t *testing.T, srv *Server, k partnerKey) *gossh.Client {
	t.Helper()
	c, err := dial(srv, gossh.PublicKeys(k.signer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// screenReader collects what a partner's terminal receives.
type screenReader struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{}
}

func (s *screenReader) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (s *screenReader) waitText(t *testing.T, texts ...string) {
	t.Helper()
	s.waitTextWithin(t, serverWait, texts...)
}

func (s *screenReader) waitTextWithin(t *testing.T, limit time.Duration, texts ...string) {
	t.Helper()
	deadline := time.After(limit)
	for {
		s.mu.Lock()
		got := s.buf.String()
		s.mu.Unlock()
		ok := true
		for _, x := range texts {
			ok = ok && strings.Contains(got, x)
		}
		if ok {
			return
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("the partner's terminal never showed %q in %s; it got (the end):\n%q", texts, limit, got[max(0, len(got)-2000):])
		}
	}
}

// watch opens a terminal session the way `ssh -p PORT host` does.
func watch(t *testing.T, c *gossh.Client) (*gossh.Session, *screenReader, io.WriteCloser) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out := &screenReader{more: make(chan struct{}, 1)}
	sess.Stdout, sess.Stderr = out, out
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return sess, out, in
}

func TestShareWatchRecordsJoinAndLeave(t *testing.T) {
	alice := newPartnerKey(t, "alice observer")
	srv, rec := startServer(t, Config{}, alice)
	opened := rec.ofType(steps.EvShareOpened)[0].Share
	if opened.Addr != srv.Addr() || opened.HostKey != srv.HostKey().Fingerprint() || len(opened.Allowed) != 1 ||
		opened.Allowed[0].Name != "alice" || opened.Allowed[0].Fingerprint != gossh.FingerprintSHA256(alice.signer.PublicKey()) {
		t.Errorf("share_opened: %+v", opened)
	}
	c := mustDial(t, srv, alice)
	sess, screen, in := watch(t, c)
	screen.waitText(t, "WATCHING as alice (observer)", "Shared runbook", "Pre-deployment checklist")
	joined := rec.waitFor(t, steps.EvPartnerJoined, 1)[0].Partner
	if joined.ID != 1 || joined.Name != "alice" || joined.Role != steps.RoleObserver ||
		joined.Fingerprint != gossh.FingerprintSHA256(alice.signer.PublicKey()) || joined.Addr != c.LocalAddr().String() {
		t.Errorf("partner_joined: %+v (client %s)", joined, c.LocalAddr())
	}
	// q leaves the screen: recorded as a quit.
	if _, err := in.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	left := rec.waitFor(t, steps.EvPartnerLeft, 1)[0]
	if left.Partner.ID != 1 || left.Text != LeftQuit {
		t.Errorf("partner_left: %+v %q", left.Partner, left.Text)
	}
	_ = sess.Wait()

	// A second watcher whose connection drops: recorded as lost.
	c2 := mustDial(t, srv, alice)
	_, screen2, _ := watch(t, c2)
	screen2.waitText(t, "WATCHING as alice (observer)")
	rec.waitFor(t, steps.EvPartnerJoined, 2)
	c2.Close()
	left = rec.waitFor(t, steps.EvPartnerLeft, 2)[1]
	if left.Partner.ID != 2 || left.Text != LeftLost {
		t.Errorf("partner_left after a dropped connection: %+v %q", left.Partner, left.Text)
	}
}

// TestShareRefusals: unknown keys, passwords and keyboard-interactive are
// refused at login; a command, a subsystem, a session without a terminal
// and any forwarding are refused after it, with nothing recorded.
func TestShareRefusals(t *testing.T) {
	alice := newPartnerKey(t, "alice approver")
	mallory := newPartnerKey(t, "mallory observer") // not in the keys file
	srv, rec := startServer(t, Config{}, alice)

	for name, auth := range map[string]gossh.AuthMethod{
		"unknown key": gossh.PublicKeys(mallory.signer),
		"password":    gossh.Password("alice"),
		"keyboard-interactive": gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
			return []string{"alice"}, nil
		}),
	} {
		if c, err := dial(srv, auth); err == nil {
			c.Close()
			t.Errorf("%s: logged in", name)
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: %v", name, err)
		}
	}

	c := mustDial(t, srv, alice)
	sess, _ := c.NewSession()
	out, err := sess.CombinedOutput("ls -la /")
	var exit *gossh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 1 || !strings.Contains(string(out), `it runs no command (you asked for "ls -la /")`) {
		t.Errorf("a command: %v %q", err, out)
	}
	sess, _ = c.NewSession()
	if err := sess.RequestSubsystem("sftp"); err == nil {
		t.Error("the sftp subsystem was accepted")
	}
	sess, _ = c.NewSession()
	out, err = sess.CombinedOutput("")
	if !errors.As(err, &exit) || !strings.Contains(string(out), "needs a terminal") {
		t.Errorf("a shell without a terminal: %v %q", err, out)
	}
	if conn, err := c.Dial("tcp", srv.Addr()); err == nil {
		conn.Close()
		t.Error("local port forwarding (direct-tcpip) was accepted")
	}
	if ln, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		t.Error("remote port forwarding (tcpip-forward) was accepted")
	}
	if ok, _, err := c.SendRequest("no-such-request@handrail", true, nil); ok || err != nil {
		t.Errorf("an unknown global request: ok=%v err=%v", ok, err)
	}
	if n := len(rec.ofType(steps.EvPartnerJoined)); n != 0 {
		t.Errorf("%d joins recorded for refused sessions", n)
	}
}

func TestShareJoinNotRecordedIsRefused(t *testing.T) {
	alice := newPartnerKey(t, "alice observer")
	srv, rec := startServer(t, Config{}, alice)
	rec.mu.Lock()
	rec.joinErr = errors.New("journal: disk full")
	rec.mu.Unlock()
	sess, screen, _ := watch(t, mustDial(t, srv, alice))
	screen.waitText(t, "your joining could not be recorded in the session's journal (journal: disk full)")
	if err := sess.Wait(); err == nil {
		t.Error("the refused session exited 0")
	}
}

// TestShareOpenedNotRecordedKeepsEveryoneOut: when the journal cannot
// record that the session is shared, nobody joins.
func TestShareOpenedNotRecordedKeepsEveryoneOut(t *testing.T) {
	alice := newPartnerKey(t, "alice observer")
	rec := newRecorder()
	rec.shareErr = errors.New("journal: disk full")
	srv, _ := startServerWith(t, rec, Config{}, alice)
	_, screen, _ := watch(t, mustDial(t, srv, alice))
	screen.waitText(t, "the session is not open to partners: the journal could not record that the session is shared (journal: disk full)")
	if n := len(rec.ofType(steps.EvPartnerJoined)); n != 0 {
		t.Errorf("%d joins recorded", n)
	}
}

// TestShareBounds: partners at once, connections at once (a flood of
// connections that never authenticate), and the handshake timeout.
func TestShareBounds(t *testing.T) {
	alice := newPartnerKey(t, "alice observer")
	srv, rec := startServer(t, Config{MaxPartners: 1, MaxConns: 3, HandshakeTimeout: 300 * time.Millisecond}, alice)
	_, screen, _ := watch(t, mustDial(t, srv, alice))
	screen.waitText(t, "WATCHING as alice")
	_, second, _ := watch(t, mustDial(t, srv, alice))
	second.waitText(t, "takes at most 1 partners at once")

	// The two clients hold 2 of 3 connections; raw TCP connections that
	// never speak SSH take the last one, and a further one is closed at
	// once; the silent ones are dropped after the handshake timeout.
	silent, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitClosed := func(c net.Conn, what string) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(serverWait))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("%s: %v (want the server to close it)", what, err)
		}
	}
	deadline := time.Now().Add(serverWait)
	for {
		extra, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = extra.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 64)
		_, err = extra.Read(buf)
		extra.Close()
		if errors.Is(err, io.EOF) {
			break // refused at once: over the bound
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection over the bound was not closed: %v", err)
		}
	}
	waitClosed(silent, "a connection that never authenticates")
	// Its slot is free again (once the server has also noticed that the
	// probes above hung up): a partner can log in.
	for deadline := time.Now().Add(serverWait); ; {
		c, err := dial(srv, gossh.PublicKeys(alice.signer))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the silent connection timed out, no slot came free: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(rec.ofType(steps.EvPartnerJoined)); n != 1 {
		t.Errorf("%d joins recorded, want 1", n)
	}
}

// TestShareSlowPartnerNeverSlowsTheSession: a partner whose terminal
// reads nothing while the session produces events. First an exec step's
// output scrolls a large terminal (big frames, which fill the partner's
// SSH window and block its screen on output), then a flood of events:
// every Publish returns while the partner stays far behind; once its
// terminal reads again, it catches up and shows the session's end.
func TestShareSlowPartnerNeverSlowsTheSession(t *testing.T) {
	alice := newPartnerKey(t, "alice observer")
	srv, rec := startServer(t, Config{}, alice)
	c := mustDial(t, srv, alice)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe() // nothing reads pr until the session is over
	sess.Stdout = pw
	if err := sess.RequestPty("xterm", 200, 400, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, steps.EvPartnerJoined, 1)
	lag := func() int64 {
		h := srv.hub
		h.mu.Lock()
		defer h.mu.Unlock()
		most := int64(0)
		for s := range h.subs {
			most = max(most, h.last+1-s.next)
		}
		return most
	}
	rec.emit(steps.Event{Type: steps.EvStepSucceeded, Step: "pre"})
	rec.emit(steps.Event{Type: steps.EvStepStarted, Step: "dump"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, deadline := 0, time.Now().Add(serverWait); lag() < 1000 && time.Now().Before(deadline); i++ {
			rec.emit(steps.Event{Type: steps.EvExecOutput, Step: "dump", Text: fmt.Sprintf("line %d %s\n", i, strings.Repeat("x", 300))})
		}
		for range 2000 {
			rec.emit(steps.Event{Type: steps.EvLockWait, Step: "dump"})
		}
		rec.emit(steps.Event{Type: steps.EvExecExited, Step: "dump", ExitCode: new(int)})
		rec.emit(steps.Event{Type: steps.EvStepSucceeded, Step: "dump"})
		rec.emit(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeSucceeded})
	}()
	select {
	case <-done:
	case <-time.After(3 * serverWait):
		t.Fatal("the session was slowed down by a partner that reads nothing")
	}
	t.Logf("%d events, the partner %d behind", rec.seq, lag())
	// It fell 1000 behind during the output, then 2000 more events came:
	// a partner whose screen was blocked is still far behind. (Not all
	// 3000: its SSH window may have had room for some cheap frames.)
	if l := lag(); l < 1000 {
		t.Fatalf("the partner is only %d events behind: it kept up, so this test proved nothing", l)
	}
	screen := &screenReader{more: make(chan struct{}, 1)}
	go func() { _, _ = io.Copy(screen, pr) }()
	// Catching up folds and draws every event it missed, at 400x200
	// (slow under the race detector on a busy machine): a long deadline.
	screen.waitTextWithin(t, 8*serverWait, "SUCCEEDED")
}

func TestShareCloseRecordsLeaves(t *testing.T) {
	alice, bob := newPartnerKey(t, "alice observer"), newPartnerKey(t, "bob approver")
	srv, rec := startServer(t, Config{}, alice, bob)
	// alice's screen shows only once her join is recorded: she is
	// partner #1, bob #2, and Close records the leaves in that order.
	sa, screenA, _ := watch(t, mustDial(t, srv, alice))
	screenA.waitText(t, "WATCHING as alice")
	sb, screenB, _ := watch(t, mustDial(t, srv, bob))
	screenB.waitText(t, "WATCHING as bob (approver)")
	rec.waitFor(t, steps.EvPartnerJoined, 2)
	srv.Close(LeftExited)
	left := rec.waitFor(t, steps.EvPartnerLeft, 2)
	if left[0].Partner.Name != "alice" || left[1].Partner.Name != "bob" || left[0].Text != LeftExited || left[1].Text != LeftExited {
		t.Errorf("leaves at close: %+v %q, %+v %q", *left[0].Partner, left[0].Text, *left[1].Partner, left[1].Text)
	}
	for _, s := range []*gossh.Session{sa, sb} {
		waited := make(chan error, 1)
		go func() { waited <- s.Wait() }()
		select {
		case <-waited:
		case <-time.After(serverWait):
			t.Fatal("a partner's session outlived the server")
		}
	}
	if n := len(rec.ofType(steps.EvPartnerLeft)); n != 2 {
		t.Errorf("%d leaves recorded, want 2 (no double record)", n)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Error("the server still accepts connections after Close")
	}
}

// TestNilServer: a session that is not shared calls the same methods.
func TestNilServer(t *testing.T) {
	var s *Server
	s.Start(nil, nil, "")
	s.Publish(steps.Event{})
	s.Close("x")
}

// TestShareCloseRestoresPartnersTerminal: when the operator's handrail
// exits, a partner's screen ends like a screen that quits (the terminal
// leaves the alternate screen and shows its cursor again) and says why the
// connection closes, with the session's outcome: never a frozen screen
// with the connection dropped under it.
func TestShareCloseRestoresPartnersTerminal(t *testing.T) {
	alice := newPartnerKey(t, "alice approver")
	srv, rec := startServer(t, Config{}, alice)
	sess, screen, _ := watch(t, mustDial(t, srv, alice))
	screen.waitText(t, "WATCHING as alice")
	rec.emit(steps.Event{Type: steps.EvSessionEnded, Outcome: steps.OutcomeAborted})
	srv.Close(LeftExited)
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case <-waited:
	case <-time.After(serverWait):
		t.Fatal("the partner's session outlived the server")
	}
	screen.waitText(t, "\x1b[?1049l", "\x1b[?25h", "the operator's handrail exited", "aborted")
}
