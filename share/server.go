package share

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/steps"
)

// Engine is what the share server needs of the session's engine: it
// records that the session is shared, and who joins and leaves. An error
// from PartnerJoined keeps the partner out: nobody watches unrecorded.
type Engine interface {
	ShareOpened(steps.ShareInfo) error
	PartnerJoined(steps.Partner) error
	PartnerLeft(p steps.Partner, why string) error
	// PartnerSend hands the engine a partner's command (approve, hold,
	// release, ask for the rollback); it never blocks, and the engine
	// answers it on the record.
	PartnerSend(p steps.Partner, c steps.Command)
}

// Config configures a share server.
type Config struct {
	// Addr is --share: where to listen (see ListenAddr).
	Addr string
	// KeysFile is --share-keys: who may join.
	KeysFile string
	// HostKeyFile holds the SSH host key; "" means DefaultHostKeyPath.
	HostKeyFile string
	// Getenv reads the environment (XDG_STATE_HOME, HOME); nil: os.Getenv.
	Getenv func(string) string

	// Bounds; zero means the default below.
	MaxPartners      int           // partner screens at once
	MaxConns         int           // SSH connections at once, handshakes included
	HandshakeTimeout time.Duration // to authenticate, from the TCP connect
	HistoryBytes     int64         // events kept in memory for late joiners (Hub)
}

// Defaults of Config.
const (
	DefaultMaxPartners      = 8
	DefaultMaxConns         = 16
	DefaultHandshakeTimeout = 10 * time.Second
)

var getenv = os.Getenv

// Why a partner left, as journaled.
const (
	LeftQuit     = "left (quit the screen)"
	LeftLost     = "connection lost"
	LeftExited   = "handrail exited: the operator's session is over"
	leftReplayFn = "the session could not be replayed: "
)

// Server is a running share endpoint. Its methods may be called on a nil
// *Server (a session that is not shared): they do nothing.
type Server struct {
	cfg  Config
	keys *Keys
	host HostKey
	ln   net.Listener
	srv  *ssh.Server
	hub  *Hub
	eng  Engine

	ready   chan struct{} // closed once share_opened is recorded
	quit    chan struct{} // closed by Close
	conns   atomic.Int32
	handled sync.WaitGroup // partner sessions in the handler

	mu      sync.Mutex
	screens int  // partner sessions admitted and not yet gone
	closed  bool // Close was called
	openErr error
	outcome steps.Outcome // the session's, once session_ended is published

	// recording serializes each partner's join and leave with their
	// records, so the journal never has a leave before its join.
	recording sync.Mutex
	nextID    int
	partners  map[int]steps.Partner // joined, not yet left
}

// Listen checks the keys file, loads (or creates) the host key and binds
// the address, so that a mistake stops the session before anything is
// journaled or run. Partners are served once Start is called.
func Listen(cfg Config) (*Server, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = getenv
	}
	cfg.MaxPartners = orDefault(cfg.MaxPartners, DefaultMaxPartners)
	cfg.MaxConns = orDefault(cfg.MaxConns, DefaultMaxConns)
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	keys, err := Check(cfg)
	if err != nil {
		return nil, err
	}
	addr, _, _ := ListenAddr(cfg.Addr) // checked
	if cfg.HostKeyFile == "" {
		if cfg.HostKeyFile, err = DefaultHostKeyPath(cfg.Getenv); err != nil {
			return nil, err
		}
	}
	host, err := LoadOrCreateHostKey(cfg.HostKeyFile)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--share %s: cannot listen: %w; choose another port", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, keys: keys, host: host, ln: ln,
		ready: make(chan struct{}), quit: make(chan struct{}), partners: map[int]steps.Partner{}}
	if s.srv, err = s.newSSHServer(); err != nil {
		ln.Close()
		return nil, err
	}
	return s, nil
}

// Check refuses what Listen would refuse, without listening or creating
// anything: the address, the keys file, and a host key already there that
// cannot be used. It returns the keys. A command with something slow to
// do first (the demo's throwaway PostgreSQL) calls it before.
func Check(cfg Config) (*Keys, error) {
	if _, _, err := ListenAddr(cfg.Addr); err != nil {
		return nil, err
	}
	keys, err := LoadKeys(cfg.KeysFile)
	if err != nil {
		return nil, err
	}
	env := cfg.Getenv
	if env == nil {
		env = getenv
	}
	path := cfg.HostKeyFile
	if path == "" {
		if path, err = DefaultHostKeyPath(env); err != nil {
			return nil, err
		}
	}
	if _, err := readHostKey(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return keys, nil
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// ListenAddr resolves --share. A port alone (":2222" or "2222") listens
// on loopback only (127.0.0.1): partners then reach it through an SSH
// login on this host or a tunnel. Any other address is used as given, and
// must be given explicitly: 0.0.0.0:2222, [::]:2222, 10.0.0.5:2222.
// loopback reports whether only this host can connect.
func ListenAddr(flag string) (addr string, loopback bool, err error) {
	if _, perr := strconv.ParseUint(flag, 10, 16); perr == nil {
		flag = ":" + flag
	}
	host, port, err := net.SplitHostPort(flag)
	if err != nil {
		return "", false, fmt.Errorf("--share %q: want [HOST]:PORT, e.g. :2222 (loopback only) or 0.0.0.0:2222 (every interface)", flag)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", false, fmt.Errorf("--share %q: the port must be a number from 0 to 65535", flag)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	loopback = host == "localhost" || (ip != nil && ip.IsLoopback())
	return net.JoinHostPort(host, port), loopback, nil
}

// Addr is the address the server listens on (with the port the system
// chose, for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the port partners give to ssh -p.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Loopback reports whether only this host can connect.
func (s *Server) Loopback() bool {
	ip := s.ln.Addr().(*net.TCPAddr).IP
	return ip.IsLoopback()
}

// HostKey is the server's SSH host key.
func (s *Server) HostKey() HostKey { return s.host }

// Keys is the parsed keys file (nil for a session that is not shared).
func (s *Server) Keys() *Keys {
	if s == nil {
		return nil
	}
	return s.keys
}

// Start serves partners of eng's session. prior are the events of a
// resumed session (as journaled); journalPath is the journal the session
// writes, read back for partners who need events no longer in memory.
// Call Publish with every event from then on, in order.
func (s *Server) Start(eng Engine, prior []steps.Event, journalPath string) {
	if s == nil {
		return
	}
	s.eng = eng
	s.hub = NewHub(HubConfig{Prior: prior, MaxBytes: s.cfg.HistoryBytes, Replay: JournalReplay(journalPath)})
	quietLibraryLogs()
	go s.announce()
	go func() { _ = s.srv.Serve(s.ln) }()
}

// announce records share_opened once the session has begun (its first
// event is in the journal), then lets partners in.
func (s *Server) announce() {
	select {
	case <-s.hub.Started():
	case <-s.quit:
		return
	}
	info := steps.ShareInfo{Addr: s.Addr(), HostKey: s.host.Fingerprint(), KeysFile: s.keys.Path}
	for _, k := range s.keys.List {
		info.Allowed = append(info.Allowed, k.Partner())
	}
	err := s.eng.ShareOpened(info)
	s.mu.Lock()
	s.openErr = err // the journal failed: the engine stops; no partner may join
	s.mu.Unlock()
	close(s.ready)
}

// Publish hands the next event, as the journal recorded it, to the
// partners. It never blocks.
func (s *Server) Publish(e steps.Event) {
	if s == nil || s.hub == nil {
		return
	}
	if e.Type == steps.EvSessionEnded {
		s.mu.Lock()
		s.outcome = e.Outcome
		s.mu.Unlock()
	}
	s.hub.Publish(e)
}

// exitNote is the last line on a partner's terminal when the operator's
// handrail exits: what happened, and what it means for the session.
func (s *Server) exitNote() string {
	s.mu.Lock()
	outcome := s.outcome
	s.mu.Unlock()
	if outcome == "" {
		return "handrail: the operator's handrail exited before the session ended (it can be resumed); this connection closes"
	}
	return fmt.Sprintf("handrail: the operator's handrail exited: the session is over (%s); this connection closes", outcome)
}

// Close stops serving: no one joins any more, every partner still
// watching is recorded as having left (why), and their connections are
// closed. Call it before the journal is closed. It waits a little for the
// partners' screens to end, never long: the operator is leaving.
func (s *Server) Close(why string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	// The leaves are recorded before the screens are told to end (quit):
	// a screen that ended first would record its own leave, and the
	// record's order would be the screens' race, not the partners' order.
	s.recording.Lock()
	left := make([]steps.Partner, 0, len(s.partners))
	for id, p := range s.partners {
		left = append(left, p)
		delete(s.partners, id)
	}
	slices.SortFunc(left, func(a, b steps.Partner) int { return a.ID - b.ID })
	for _, p := range left {
		_ = s.eng.PartnerLeft(p, why)
	}
	s.recording.Unlock()
	close(s.quit)
	s.ln.Close()
	if s.hub != nil {
		s.hub.Close()
	}
	// The partners' screens end (quit told them) and restore their
	// terminals before the connections close: a connection closed under
	// a screen leaves the partner's terminal in the alternate screen,
	// its cursor hidden.
	done := make(chan struct{})
	go func() {
		s.handled.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	_ = s.srv.Close()
}

// newSSHServer builds the wish server: public keys from the keys file and
// nothing else; session channels only, and in them only a terminal
// showing the session.
func (s *Server) newSSHServer() (*ssh.Server, error) {
	return wish.NewServer(
		func(srv *ssh.Server) error {
			srv.AddHostKey(s.host.Signer)
			srv.Version = "handrail"
			srv.HandshakeTimeout = s.cfg.HandshakeTimeout
			// Only session channels: no direct-tcpip (local forwarding), no
			// global requests (tcpip-forward), no subsystems (sftp).
			srv.ChannelHandlers = map[string]ssh.ChannelHandler{"session": ssh.DefaultSessionHandler}
			srv.RequestHandlers = map[string]ssh.RequestHandler{}
			srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{}
			srv.ConnCallback = s.admitConn
			return nil
		},
		wish.WithPublicKeyAuth(func(_ ssh.Context, key ssh.PublicKey) bool {
			_, ok := s.keys.Lookup(key)
			return ok
		}),
		wish.WithMiddleware(s.screenMiddleware(), s.gate),
	)
}

// admitConn bounds the connections at once, handshakes included, so a
// flood of connection attempts costs a bounded number of goroutines.
func (s *Server) admitConn(_ ssh.Context, c net.Conn) net.Conn {
	if int(s.conns.Add(1)) > s.cfg.MaxConns {
		s.conns.Add(-1)
		return nil // closed at once by the ssh package
	}
	return &countedConn{Conn: c, release: func() { s.conns.Add(-1) }}
}

// countedConn gives back its connection slot once, when closed.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release) // first: once the peer sees the close, the slot is free
	return c.Conn.Close()
}

// JournalReplay reads the events with seq <= upTo back from the journal
// at path (the file the session is writing: every event published was
// appended before).
func JournalReplay(path string) func(upTo int64) ([]steps.Event, error) {
	if path == "" {
		return nil
	}
	return func(upTo int64) ([]steps.Event, error) {
		log, err := journal.Read(path)
		if err != nil {
			return nil, err
		}
		evs := log.Events
		for len(evs) > 0 && evs[len(evs)-1].Seq > upTo {
			evs = evs[:len(evs)-1]
		}
		return evs, nil
	}
}

// quietLibraryLogs stops the SSH libraries from logging to stderr: the
// operator's terminal is handrail's screen, and a line written there (a
// partner's connection that failed, say) would garble it. wish logs with
// charm's log package, the ssh package with log/slog; handrail itself
// uses neither.
func quietLibraryLogs() {
	log.SetOutput(io.Discard)
	slog.SetDefault(slog.New(slog.DiscardHandler))
}

var errClosed = errors.New("handrail is leaving")

// waitReady waits until partners may join: share_opened is recorded.
func (s *Server) waitReady(ctx context.Context) error {
	select {
	case <-s.ready:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.openErr != nil {
			return fmt.Errorf("the journal could not record that the session is shared (%w)", s.openErr)
		}
		return nil
	case <-s.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Describe tells the operator, before the screen opens, where partners
// connect and which host key they should see.
func (s *Server) Describe(w io.Writer) {
	where := "loopback only"
	if !s.Loopback() {
		where = "reachable from other machines"
	}
	fmt.Fprintf(w, "handrail: sharing this session over SSH on %s (%s)\n", s.Addr(), where)
	fmt.Fprintf(w, "  join:      ssh -p %d HOST\n", s.Port())
	fresh := ""
	if s.host.Created {
		fresh = " (new: partners confirm it once)"
	}
	fmt.Fprintf(w, "  host key:  %s%s\n             public key: %s.pub\n", s.host.Fingerprint(), fresh, s.host.Path)
	names := make([]string, 0, len(s.keys.List))
	for _, k := range s.keys.List {
		names = append(names, fmt.Sprintf("%s (%s)", k.Name, k.Role))
	}
	fmt.Fprintf(w, "  partners:  %s\n             from %s\n", strings.Join(names, ", "), s.keys.Path)
}
