// Package session owns a go-zookeeper connection and turns its events into a small, honest
// state machine.
//
// A Session connects in the background, resolves its servers once up front, authenticates on
// every new session before anyone reads, and reports every state transition, in order, to
// one callback. Node watch events are handed to another callback on go-zookeeper's I/O
// goroutine; that callback must return at once.
//
// States follow these rules. Connecting holds only before the first session. Connected means
// a session is established (go-zookeeper's StateHasSession, never its TCP-level
// StateConnected). Suspended: the connection dropped and the session may live. Lost:
// Suspended for longer than the negotiated session timeout. Expired: the server said the
// session is gone; the next state is Connected with NewSession set. AuthFailed: the server
// refused a credential. Closed: the last state.
//
// A refused credential is refused for good. ZooKeeper refuses only a credential it cannot
// use at all, one of an unknown scheme or with malformed data (a digest with a wrong password
// is accepted and merely matches no ACL), and then closes the connection. The Session
// remembers the refusal for its whole life and never sends that credential again, on any
// connection or session; it reports AuthFailed once, however many credentials are refused,
// and carries on: the other credentials are added, and on the next connection of the same
// session it reports Connected, with the access the world and the accepted credentials have.
//
// The session owns the connection's zxid, which keeps go-zookeeper v1.0.4's receive loop
// from racing with its reconnects (see zxidBook). When every server refuses the handshake
// for longer than the session timeout (a cluster whose history went back, or one without
// quorum), it starts afresh with a new session: Expired, then Connected with NewSession.
//
// Close ends every goroutine the Session started and closes every socket; go-zookeeper's
// goroutines have then been told to stop and have nothing left to do but return.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/inbox"
	"github.com/zkmirror/zkmirror/internal/run"
)

// Auth is one credential, added on every new session before reads. A credential the server
// refuses is never sent again (see the package documentation).
type Auth struct {
	Scheme string
	Auth   []byte
}

// Config configures a Session.
type Config struct {
	// Servers are "host:port", "host" or "[v6]:port" addresses. Names are resolved once, by New.
	Servers []string
	// SessionTimeout is the timeout asked of the server, which may negotiate it.
	SessionTimeout time.Duration
	// Logger receives the session's log records and go-zookeeper's; nil is silent.
	Logger *slog.Logger
	// Auth credentials, added on each new session before Connected is reported. One the
	// server refuses is reported once as AuthFailed and never sent again.
	Auth []Auth
	// Dialer opens connections; nil uses net.Dialer. It is wrapped so Close ends every socket.
	Dialer Dialer
	// ConnBufferSize is the size of go-zookeeper's request encoding buffer (0: its default).
	ConnBufferSize int
	// OnNodeEvent receives every node watch event (created, deleted, data or children
	// changed, not-watching) on go-zookeeper's I/O goroutine. It must return at once and
	// must not call the connection. May be nil.
	OnNodeEvent func(zk.Event)
	// OnTransition receives every state transition, in order, on the session's goroutine.
	// It should return quickly; it must not call Close. May be nil.
	OnTransition func(Transition)
	// OnWatchesLost is called (from go-zookeeper's goroutine, so it must return at once) when
	// go-zookeeper reports that re-sending watches after a reconnect failed: the server may
	// hold none of them. May be nil.
	OnWatchesLost func()
}

// Transition is one change of state.
type Transition struct {
	State State
	// SessionID is the server's session id while Connected; 0 otherwise.
	SessionID int64
	// NewSession is set on Connected when this session is not the one before (the first
	// session, or one after an expiry).
	NewSession bool
	// Generation counts sessions: 1 for the first, incremented for each new one.
	Generation uint64
	At         time.Time
}

// Session owns a *zk.Conn. Its methods are safe for concurrent use.
type Session struct {
	cfg     Config
	log     *slog.Logger
	conn    *zk.Conn
	events  <-chan zk.Event
	sockets *sockets
	hosts   *hostProvider

	negotiated atomic.Int64 // ms; 0 until the first handshake

	grp       run.Group // the loop; Stopping is the Session's quit signal
	startOnce sync.Once
	closeOnce sync.Once

	// zk session-state events, handed off by the callback to the loop.
	stateQ inbox.Queue[zk.State]

	mu                sync.Mutex // guards the four fields below
	state             State
	sessionID         int64
	generation        uint64
	disconnectedSince time.Time

	// auth holds, per credential of cfg.Auth, whether the server accepted it (go-zookeeper
	// then re-sends it on every connection) or refused it (it is never sent again). Only the
	// loop goroutine uses it.
	auth []authStatus
}

// authStatus is what became of one credential.
type authStatus uint8

const (
	authPending  authStatus = iota // not yet added: added on the next session
	authAccepted                   // added; go-zookeeper re-sends it by itself
	authRefused                    // refused by the server: never sent again
)

// New resolves the servers and starts connecting in the background. It fails only when an
// address cannot be parsed or resolved.
func New(ctx context.Context, cfg Config) (*Session, error) {
	addrs, err := Resolve(ctx, cfg.Servers)
	if err != nil {
		return nil, err
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Session{
		cfg:    cfg,
		log:    log,
		grp:    run.NewGroup(),
		stateQ: inbox.NewQueue[zk.State](),
		state:  StateConnecting,
		auth:   make([]authStatus, len(cfg.Auth)),
	}
	s.hosts = &hostProvider{quit: s.grp.Stopping(), addrs: addrs, next: rand.N(len(addrs))}
	book := &zxidBook{
		timeout:   s.SessionTimeout,
		onTimeout: func(ms int32) { s.negotiated.Store(int64(ms)) },
		onForget: func() {
			s.log.Warn("every server refused the handshake for longer than the session timeout " +
				"(the cluster's history may have gone back, or it has no quorum): " +
				"starting a new session and forgetting the last zxid seen")
		},
	}
	s.sockets = newSockets(cfg.Dialer, s.ioBound, book)

	bufSize := cfg.ConnBufferSize
	if bufSize <= 0 {
		bufSize = 1536 * 1024 // go-zookeeper's default
	}
	conn, events, err := zk.Connect(addrs, cfg.SessionTimeout,
		zk.WithHostProvider(s.hosts),
		zk.WithDialer(s.sockets.dial),
		zk.WithLogger(zkLogger{s}),
		zk.WithLogInfo(true), // its connection lines, at debug level
		zk.WithEventCallback(s.onEvent),
		zk.WithMaxConnBufferSize(bufSize),
	)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s.conn = conn
	s.events = events
	return s, nil
}

// Start starts delivering transitions. Events that arrived before are delivered then, in
// order, so the caller can finish wiring its callbacks between New and Start.
func (s *Session) Start() {
	s.startOnce.Do(func() { s.grp.Go(s.loop) })
}

// Conn returns the connection. Only the engine calls it.
func (s *Session) Conn() *zk.Conn { return s.conn }

// State returns the current state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// DisconnectedSince returns when the connection dropped, or the zero time while connected
// (and before the first connection attempt failed).
func (s *Session) DisconnectedSince() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disconnectedSince
}

// SessionTimeout returns the negotiated session timeout, or the requested one before the
// first handshake.
func (s *Session) SessionTimeout() time.Duration {
	if ms := s.negotiated.Load(); ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return s.cfg.SessionTimeout
}

// ioBound caps any single socket wait.
func (s *Session) ioBound() time.Duration {
	return max(s.SessionTimeout(), time.Second)
}

// onEvent runs on go-zookeeper's I/O goroutine (and, on expiry, once per watch under its
// watcher lock): O(1) hand-off only.
func (s *Session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		if s.cfg.OnNodeEvent != nil {
			s.cfg.OnNodeEvent(ev)
		}
		return
	}
	s.stateQ.Put(ev.State)
}

func (s *Session) loop() {
	lost := time.NewTimer(time.Hour)
	lost.Stop()
	defer lost.Stop()
	for {
		select {
		case <-s.grp.Stopping():
			return
		case <-lost.C:
			s.mu.Lock()
			isSuspended := s.state == StateSuspended
			s.mu.Unlock()
			if isSuspended {
				s.transition(StateLost, false)
			}
		case <-s.stateQ.Ready():
			for _, zs := range s.stateQ.Take(nil) {
				if s.closing() {
					return
				}
				s.handle(zs, lost)
			}
		}
	}
}

func (s *Session) handle(zs zk.State, lost *time.Timer) {
	s.mu.Lock()
	cur := s.state
	s.mu.Unlock()
	switch zs {
	case zk.StateHasSession:
		id := s.conn.SessionID()
		s.mu.Lock()
		isNew := id != s.sessionID
		abandoned := isNew && s.sessionID != 0
		s.mu.Unlock()
		if cur == StateConnected && !isNew {
			return
		}
		lost.Stop()
		if abandoned && cur != StateExpired {
			// A new session that follows one the server did not expire: the session started
			// afresh after refused handshakes (see zxidBook). For the mirror it is an expiry.
			s.transition(StateExpired, false)
		}
		refused, err := s.authenticate()
		if refused > 0 && s.State() != StateAuthFailed {
			s.transition(StateAuthFailed, false)
		}
		if err != nil {
			// The connection dropped while authenticating; a later StateHasSession retries.
			if !s.closing() {
				s.log.Warn("authentication interrupted", "err", err)
			}
			return
		}
		if refused > 0 {
			// ZooKeeper closes the connection after a refusal: Connected is reported on the
			// next one, unless this one still answers and nothing happened meanwhile. A probe
			// that went out on the next connection finds that connection's events queued.
			if _, _, err := s.conn.Exists("/"); err != nil || s.eventsQueued() {
				return
			}
		}
		s.mu.Lock()
		s.sessionID = id
		if isNew {
			s.generation++
		}
		s.disconnectedSince = time.Time{}
		s.mu.Unlock()
		s.transition(StateConnected, isNew)
	case zk.StateExpired:
		lost.Stop()
		s.mu.Lock()
		if s.disconnectedSince.IsZero() {
			s.disconnectedSince = time.Now()
		}
		s.mu.Unlock()
		s.transition(StateExpired, false)
	case zk.StateAuthFailed:
		if cur != StateAuthFailed {
			s.transition(StateAuthFailed, false)
		}
	case zk.StateDisconnected, zk.StateConnecting, zk.StateConnected:
		if cur != StateConnected {
			return
		}
		s.mu.Lock()
		s.disconnectedSince = time.Now()
		s.mu.Unlock()
		lost.Reset(s.SessionTimeout())
		s.transition(StateSuspended, false)
	}
}

// authenticate adds each credential go-zookeeper does not yet remember and the server has not
// refused. Once AddAuth has succeeded, go-zookeeper re-sends the credential on every later
// connection, new sessions included, before any other request; before the first session
// AddAuth fails and is not remembered, which is why it runs here. A credential the server
// refuses is marked refused, logged once and skipped from then on: refused counts those
// refused by this call. err is the failure, other than a refusal, that stopped it (the
// connection dropped); the credentials not yet added are tried on the next connection.
func (s *Session) authenticate() (refused int, err error) {
	for i, a := range s.cfg.Auth {
		if s.auth[i] != authPending {
			continue
		}
		err := s.conn.AddAuth(a.Scheme, a.Auth)
		switch {
		case err == nil:
			s.auth[i] = authAccepted
		case isRefusal(err):
			s.auth[i] = authRefused
			refused++
			s.log.Error("zookeeper refused a credential; it will not be sent again", "scheme", a.Scheme, "err", err)
		default:
			return refused, fmt.Errorf("add auth %q: %w", a.Scheme, err)
		}
	}
	return refused, nil
}

// isRefusal reports whether AddAuth's error is the server's answer to the credential itself
// rather than a failure of the connection.
func isRefusal(err error) bool {
	return errors.Is(err, zk.ErrAuthFailed) || errors.Is(err, zk.ErrInvalidACL) || errors.Is(err, zk.ErrBadArguments)
}

// eventsQueued reports whether session events wait for the loop.
func (s *Session) eventsQueued() bool {
	return s.stateQ.Len() > 0
}

// closing reports whether Close has been called.
func (s *Session) closing() bool {
	select {
	case <-s.grp.Stopping():
		return true
	default:
		return false
	}
}

func (s *Session) transition(st State, isNew bool) {
	s.mu.Lock()
	s.state = st
	t := Transition{State: st, NewSession: isNew, Generation: s.generation, At: time.Now()}
	if st == StateConnected {
		t.SessionID = s.sessionID
	}
	s.mu.Unlock()
	s.log.Info("zookeeper session state", "state", st.String(), "session", fmt.Sprintf("0x%x", t.SessionID), "new", isNew)
	if s.cfg.OnTransition != nil {
		s.cfg.OnTransition(t)
	}
}

// Close ends the session: it closes go-zookeeper's connection and every socket, waits for
// the Session's goroutine and for go-zookeeper's connection loop to end (its event channel
// closes), reports StateClosed and returns. go-zookeeper's other goroutines (the send loop,
// the re-sending of watches) have by then been told to stop and only return. It takes at
// most about a second beyond the current transition callback, even when the server stopped
// answering in the middle of a request. Idempotent.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.grp.Stop()
		s.startOnce.Do(func() {}) // a session never started has no loop to wait for
		// The connection is closed before the loop is waited for: closing it ends any
		// request the loop waits on (AddAuth), which would otherwise wait for an answer up
		// to go-zookeeper's read timeout. With a live connection this sends the close
		// request and returns at its answer; without one go-zookeeper waits up to a second
		// for an answer that cannot come.
		s.conn.Close()
		s.sockets.closeAll()
		s.grp.Wait()
		// go-zookeeper closes its event channel when its connection loop has ended; that is
		// the only sign its goroutines are done.
		for range s.events {
		}
		s.transition(StateClosed, false)
	})
	return nil
}

// zkLogger routes go-zookeeper's log lines to slog at debug level and reads the one line that
// carries a fact go-zookeeper does not otherwise expose: re-sending watches failed. After
// Close it drops them: go-zookeeper's goroutines that were told to stop may still log on
// their way out.
type zkLogger struct{ s *Session }

func (l zkLogger) Printf(format string, args ...any) {
	if l.s.closing() {
		return
	}
	if format == "Failed to set previous watches: %v" {
		if l.s.cfg.OnWatchesLost != nil {
			l.s.cfg.OnWatchesLost()
		}
		l.s.log.Warn(fmt.Sprintf("zk: "+format, args...))
		return
	}
	l.s.log.Debug(fmt.Sprintf("zk: "+format, args...))
}
