package share

import (
	"context"
	"fmt"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/bubbletea"

	"github.com/handrail-dev/handrail/steps"
	"github.com/handrail-dev/handrail/ui"
)

// screenKey is where the gate leaves the admitted partner's screen for
// the Bubble Tea middleware, in the session's context.
type screenKey struct{}

// screen is one admitted partner's session.
type screen struct {
	partner steps.Partner
	sub     *Sub
	initial Feed
	ctx     context.Context // ends when the handler returns

	mu  sync.Mutex
	err error // why the screen stopped, when it failed
}

func (sc *screen) fail(err error) {
	sc.mu.Lock()
	sc.err = err
	sc.mu.Unlock()
}

func (sc *screen) failed() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.err
}

// gate admits a partner's session or refuses it with a message on the
// partner's terminal, and records the leave when the screen ends.
func (s *Server) gate(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.handled.Add(1)
		defer s.handled.Done()
		sc, refusal := s.admit(sess)
		if refusal != "" {
			wish.Fatalln(sess, refusal)
			return
		}
		ctx, cancel := context.WithCancel(sess.Context())
		defer cancel()
		// Close ends the screen the way q does (the terminal restored),
		// then says why on the partner's terminal.
		go func() {
			select {
			case <-s.quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		sc.ctx = ctx
		sess.Context().SetValue(screenKey{}, sc)
		next(sess)
		sc.sub.Close()
		why := LeftQuit
		switch err := sc.failed(); {
		case s.exiting():
			why = LeftExited
			wish.Printf(sess, "%s\r\n", s.exitNote())
		case err != nil:
			why = leftReplayFn + err.Error()
			wish.Errorf(sess, "handrail: %s\r\n", why)
		case sess.Context().Err() != nil:
			why = LeftLost
		}
		s.leave(sc.partner, why)
		s.release()
	}
}

// admit applies the rules of who may watch, in order; refusal says why
// not, to the partner.
func (s *Server) admit(sess ssh.Session) (*screen, string) {
	join := fmt.Sprintf("ssh -p %d HOST", s.Port())
	if cmd := sess.RawCommand(); cmd != "" {
		return nil, fmt.Sprintf("handrail: this SSH endpoint only shows a live handrail session; it runs no command (you asked for %q).\r\nJoin with no command: %s", cmd, join)
	}
	if _, _, ok := sess.Pty(); !ok {
		return nil, "handrail: watching the session needs a terminal; join with: ssh -t -p " + fmt.Sprint(s.Port()) + " HOST"
	}
	key, ok := s.keys.Lookup(sess.PublicKey())
	if !ok {
		return nil, "handrail: your key is not in the session's keys file"
	}
	if !s.reserve() {
		return nil, fmt.Sprintf("handrail: this session takes at most %d partners at once, and that many are watching; try again when one leaves", s.cfg.MaxPartners)
	}
	if err := s.waitReady(sess.Context()); err != nil {
		s.release()
		return nil, "handrail: the session is not open to partners: " + err.Error()
	}
	p, err := s.join(key, sess.RemoteAddr().String())
	if err != nil {
		s.release()
		return nil, fmt.Sprintf("handrail: your joining could not be recorded in the session's journal (%v), so you cannot watch", err)
	}
	sc := &screen{partner: p, sub: s.hub.Subscribe()}
	sc.initial, err = sc.sub.Next(sess.Context())
	if err != nil {
		sc.sub.Close()
		s.leave(p, leftReplayFn+err.Error())
		s.release()
		return nil, "handrail: " + leftReplayFn + err.Error()
	}
	return sc, ""
}

// exiting: Close was called (the operator's handrail is leaving).
func (s *Server) exiting() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// reserve takes a partner slot; release gives it back.
func (s *Server) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.screens >= s.cfg.MaxPartners {
		return false
	}
	s.screens++
	return true
}

func (s *Server) release() {
	s.mu.Lock()
	s.screens--
	s.mu.Unlock()
}

// join records that the partner with key joined from addr.
func (s *Server) join(key Key, addr string) (steps.Partner, error) {
	s.recording.Lock()
	defer s.recording.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return steps.Partner{}, errClosed
	}
	s.nextID++
	p := key.Partner()
	p.ID, p.Addr = s.nextID, addr
	if err := s.eng.PartnerJoined(p); err != nil {
		return p, err
	}
	s.partners[p.ID] = p
	return p, nil
}

// leave records that p left, unless Close already did.
func (s *Server) leave(p steps.Partner, why string) {
	s.recording.Lock()
	defer s.recording.Unlock()
	if _, still := s.partners[p.ID]; still {
		delete(s.partners, p.ID)
		_ = s.eng.PartnerLeft(p, why)
	}
}

// screenMiddleware runs the partner's screen: wish's Bubble Tea middleware
// (the session as the program's terminal, window changes as resizes)
// around ui's Watch mode, fed from the hub.
func (s *Server) screenMiddleware() wish.Middleware {
	return bubbletea.MiddlewareWithProgramHandler(func(sess ssh.Session) *tea.Program {
		sc, ok := sess.Context().Value(screenKey{}).(*screen)
		if !ok {
			return nil
		}
		partner := sc.partner
		m := ui.New(ui.Options{
			Mode: ui.Watch, Initial: sc.initial.Events, Context: sc.ctx,
			Viewer:  fmt.Sprintf("%s (%s)", sc.partner.Name, sc.partner.Role),
			Partner: &partner,
			// Only a partner's commands leave this screen (ui sends no
			// other from a Watch screen), and the engine answers each
			// as this partner's: State.AcceptsFrom, on the record.
			Send: func(c steps.Command) {
				if c.Type.Partner() {
					s.eng.PartnerSend(partner, c)
				}
			},
		})
		opts := append(bubbletea.MakeOptions(sess), tea.WithoutSignalHandler())
		p := tea.NewProgram(m, opts...)
		if sc.initial.Closed {
			go p.Send(ui.FeedMsg{Closed: true})
		} else {
			go feed(sc, p)
		}
		return p
	})
}

// feed hands the partner's screen what the hub has for it, one Feed at a
// time: while the screen is busy (a slow terminal), the hub only moves its
// cursor, so the next Feed is larger, never the engine slower.
func feed(sc *screen, p *tea.Program) {
	for {
		f, err := sc.sub.Next(sc.ctx)
		if err != nil {
			if sc.ctx.Err() == nil {
				sc.fail(err)
				p.Quit()
			}
			return
		}
		p.Send(ui.FeedMsg{Events: f.Events, Reset: f.Reset, Closed: f.Closed})
		if f.Closed {
			return
		}
	}
}
