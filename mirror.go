package zkmirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkmirror/zkmirror/internal/engine"
	"github.com/zkmirror/zkmirror/internal/run"
	"github.com/zkmirror/zkmirror/session"
)

// Mirror is a connection to a ZooKeeper ensemble and the mirror of every path its handles
// hold. It is safe for concurrent use. Close it when done.
type Mirror struct {
	cfg     config
	log     *slog.Logger
	root    chroot
	sess    *session.Session
	eng     *engine.Engine
	streams *nodeStreams // the Node handles' streams
	disp    *dispatcher
	keeper  *keeper

	conflated atomic.Int64 // snapshots replaced unread in a subscriber's mailbox

	// Set by Connect, then read-only (their own locks guard them).
	calls     run.Group // calls in flight (see call); stopped when Close starts
	closeOnce sync.Once
	closed    chan struct{} // closed when Close is done

	mu         sync.Mutex // guards the fields below
	isClosed   bool
	state      State
	stateSince time.Time
	connGate   chan struct{} // closed while Connected
	authGate   chan struct{} // closed at the first AuthFailed
	stateSubs  map[*stateSub]struct{}
	trees      map[*Tree]struct{} // open Trees; nil once closed
}

// Connect starts a Mirror of the given servers ("host:port", "host" for port 2181, or
// "[v6]:port"). It returns at once and connects in the background; it fails only for bad
// options (an option out of the range its doc states), an empty server list, or a server
// address that cannot be parsed or resolved: ErrInvalidArgument (a chroot that is not a
// valid path also matches ErrInvalidPath). A nil Option panics.
func Connect(servers []string, opts ...Option) (*Mirror, error) {
	cfg := config{
		sessionTimeout:  DefaultSessionTimeout,
		maxDataSize:     DefaultMaxDataSize,
		resyncJitter:    DefaultResyncJitter,
		readConcurrency: DefaultReadConcurrency,
	}
	for _, o := range opts {
		if o == nil {
			panic("zkmirror: Connect called with a nil Option")
		}
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.chroot == "/" {
		cfg.chroot = ""
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Mirror{
		cfg:        cfg,
		log:        log,
		root:       chroot(cfg.chroot),
		calls:      run.NewGroup(),
		closed:     make(chan struct{}),
		state:      StateConnecting,
		stateSince: time.Now(),
		connGate:   make(chan struct{}),
		authGate:   make(chan struct{}),
		stateSubs:  make(map[*stateSub]struct{}),
	}
	m.trees = make(map[*Tree]struct{})
	m.disp = newDispatcher(log)
	m.eng = engine.New(engine.Config{
		Log:             log,
		Chroot:          cfg.chroot,
		ReadConcurrency: cfg.readConcurrency,
		Jitter:          cfg.resyncJitter,
		UserPath:        m.userPath,
		ReadErr:         func(spath string, err error) error { return wrapZK("read", m.userPath(spath), err) },
		ErrKey:          errKey,
		SnapshotFile:    cfg.snapshotFile,
		ValidPath:       func(p string) bool { return validatePath(p, false) == nil },
	})
	m.streams = &nodeStreams{eng: m.eng, conflated: &m.conflated, paths: make(map[string]*pathStreams)}
	m.keeper = newKeeper(m.eng, log, m.waitConnected)

	auth := make([]session.Auth, len(cfg.auth))
	for i, a := range cfg.auth {
		auth[i] = session.Auth{Scheme: a.scheme, Auth: a.auth}
	}
	sess, err := session.New(context.Background(), session.Config{
		Servers:        servers,
		SessionTimeout: cfg.sessionTimeout,
		Logger:         log,
		Auth:           auth,
		Dialer:         cfg.dialer,
		ConnBufferSize: max(1536*1024, cfg.maxDataSize+64<<10),
		OnNodeEvent:    m.eng.OnNodeEvent,
		OnTransition:   m.onTransition,
		OnWatchesLost:  m.eng.OnWatchesLost,
	})
	if err != nil {
		m.eng.Close()
		m.keeper.close()
		m.disp.close()
		return nil, &opError{op: "connect", kind: ErrInvalidArgument, cause: err, causeSays: true}
	}
	m.sess = sess
	m.eng.Start(sess.Conn(), sess.SessionTimeout)
	m.keeper.start()
	sess.Start()
	return m, nil
}

// onTransition runs on the session's goroutine, in order.
func (m *Mirror) onTransition(t session.Transition) {
	m.eng.OnTransition(t)
	m.keeper.onTransition(t)
	st := State(t.State)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = st
	m.stateSince = t.At
	if st == StateAuthFailed {
		select {
		case <-m.authGate:
		default:
			close(m.authGate)
		}
	}
	if st == StateConnected {
		select {
		case <-m.connGate:
		default:
			close(m.connGate)
		}
	} else {
		select {
		case <-m.connGate:
			m.connGate = make(chan struct{})
		default:
		}
	}
	for s := range m.stateSubs {
		s.put(st)
	}
	if st == StateClosed {
		for s := range m.stateSubs {
			s.end()
		}
		m.stateSubs = nil
	}
}

// State returns the current connection state.
func (m *Mirror) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// DisconnectedSince returns when the connection dropped, or the zero time while connected
// (and while connecting for the first time).
func (m *Mirror) DisconnectedSince() time.Time {
	if m.State() == StateConnected {
		return time.Time{}
	}
	return m.sess.DisconnectedSince()
}

// SessionTimeout returns the session timeout negotiated with the server (the requested one
// before the first session).
func (m *Mirror) SessionTimeout() time.Duration { return m.sess.SessionTimeout() }

// States returns a channel that receives the current state first, then every transition in
// order. It is not conflated: a reader wants to see an expiry even if it lasted a
// millisecond. It holds up to 64 transitions; a reader further behind loses the oldest. The
// channel closes after StateClosed, or when ctx ends.
func (m *Mirror) States(ctx context.Context) <-chan State {
	if ctx == nil {
		panic("zkmirror: States called with a nil context")
	}
	s := &stateSub{ch: make(chan State, statesBuffer)}
	m.mu.Lock()
	defer m.mu.Unlock()
	s.put(m.state)
	if m.stateSubs == nil { // closed
		s.end()
		return s.ch
	}
	m.stateSubs[s] = struct{}{}
	s.stop = context.AfterFunc(ctx, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.stateSubs[s]; ok {
			delete(m.stateSubs, s)
			s.end()
		}
	})
	return s.ch
}

const statesBuffer = 64

type stateSub struct {
	ch    chan State
	stop  func() bool
	ended bool
}

// put adds a transition, dropping the oldest when the reader is 64 behind. Callers hold the
// Mirror's lock, so there is one sender at a time.
func (s *stateSub) put(st State) {
	if s.ended {
		return
	}
	select {
	case s.ch <- st:
	default:
		select {
		case <-s.ch:
		default:
		}
		s.ch <- st
	}
}

func (s *stateSub) end() {
	if s.ended {
		return
	}
	s.ended = true
	if s.stop != nil {
		s.stop()
	}
	close(s.ch)
}

// Close closes the Mirror: the session ends (ephemeral nodes go), every channel handed out
// closes, calls in flight return ErrClosed, and Close returns only after every goroutine of
// the Mirror has ended and every socket it opened is closed; go-zookeeper's own goroutines
// have then been told to stop and have nothing left to do but return. Idempotent;
// concurrent calls all wait for the first.
//
// Close may be called from a watcher callback: it closes the Mirror as above but does not
// wait for the dispatcher goroutine the callback runs on, which ends by itself once the
// callback returns; no other callback starts. A Close from any other goroutine, before or
// after, waits for the dispatcher too.
func (m *Mirror) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.isClosed = true
		m.mu.Unlock()
		m.calls.Stop()
		m.eng.Stop()   // no read starts from now on
		m.sess.Close() // every blocked request returns; StateClosed is sent
		m.keeper.close()
		m.calls.Wait()
		m.eng.Close() // and the snapshot file's last write
		m.mu.Lock()
		trees := m.trees
		m.trees = nil
		m.mu.Unlock()
		for t := range trees {
			t.shutdown()
		}
		m.streams.closeAll()
		m.disp.stop() // waited for below, unless this is a callback on it
		close(m.closed)
	})
	<-m.closed
	m.disp.close()
	return nil
}

// forgetTree drops a Tree that closed from the Mirror's open Trees.
func (m *Mirror) forgetTree(t *Tree) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.trees != nil {
		delete(m.trees, t)
	}
}

// WaitConnected waits until the Mirror has a session. It returns nil once the Mirror is
// Connected, at once if it already is (whatever the state of ctx).
//
// It returns an error matching ErrAuthFailed, without waiting further, once the server has
// refused a credential given with WithAuth, whether before the call or during it, and on
// every later call, Connected or not. The refusal is final: the Mirror never sends that
// credential again, and its session carries on (it becomes Connected) with the access the
// accepted credentials and the world have. A caller content with that access goes on after
// ErrAuthFailed and watches State or States for the connection.
//
// It returns an error matching ErrTimeout, and also ctx.Err(), when ctx ends first, and one
// matching ErrClosed when the Mirror is closed before or during the call (after Close, that
// is every call's answer). Credentials resolve before Connected is reported, so nil means
// that no credential had been refused when the session was established.
func (m *Mirror) WaitConnected(ctx context.Context) error {
	if ctx == nil {
		panic("zkmirror: WaitConnected called with a nil context")
	}
	const op = "wait connected"
	m.mu.Lock()
	gate := m.connGate
	m.mu.Unlock()
	ready := func() error {
		select {
		case <-m.calls.Stopping():
			return newErr(op, "", ErrClosed, nil)
		default:
		}
		select {
		case <-m.authGate:
			return newErrf(op, "", ErrAuthFailed, "the server refused a credential; the session goes on without it")
		default:
		}
		return nil
	}
	if err := ready(); err != nil {
		return err
	}
	select {
	case <-gate:
		return ready()
	default:
	}
	select {
	case <-gate:
		return ready()
	case <-m.authGate:
		return ready()
	case <-m.calls.Stopping():
		return ready()
	case <-ctx.Done():
		cause := ctx.Err()
		if c := context.Cause(ctx); c != cause {
			cause = fmt.Errorf("%w: %w", cause, c)
		}
		return &opError{op: op, kind: ErrTimeout, cause: cause, detail: "not connected"}
	}
}

// Node returns a new handle on the mirror of path. Handles are cheap; every handle on a path
// shares one mirror and one set of watches. Nothing is read until the handle is first used.
// A bad path is ErrInvalidPath, refused before anything is sent: exactly the paths a
// ZooKeeper server refuses to create (not absolute; an empty, "." or ".." name; a trailing
// slash; not UTF-8; NUL, U+0001–U+001F, U+007F–U+009F, U+D800–U+F8FF, U+FFF0–U+FFFF, or a
// code point above U+FFFF), and paths longer than MaxPathLen bytes with the chroot, which
// no request to the server could carry. After Close, ErrClosed.
func (m *Mirror) Node(path string) (*Node, error) {
	if err := m.checkPath(path); err != nil {
		return nil, err
	}
	if err := m.checkOpen("node", path); err != nil {
		return nil, err
	}
	return &Node{m: m, path: path, spath: m.root.toServer(path), subs: make(map[uint64]func()), watchers: make(map[watcherKey]func())}, nil
}

// Tree starts mirroring the subtree at root and returns at once; use Synced to wait for the
// initial load. A bad root is ErrInvalidPath, a negative MaxDepth ErrInvalidArgument; after
// the Mirror's Close, ErrClosed. A nil TreeOption panics.
func (m *Mirror) Tree(root string, opts ...TreeOption) (*Tree, error) {
	if err := m.checkPath(root); err != nil {
		return nil, err
	}
	cfg := treeConfig{maxDepth: -1}
	for _, o := range opts {
		if o == nil {
			panic("zkmirror: Tree called with a nil TreeOption")
		}
		o(&cfg)
	}
	if cfg.depthSet && cfg.maxDepth < 0 {
		return nil, newErrf("tree", root, ErrInvalidArgument, "MaxDepth(%d)", cfg.maxDepth)
	}
	t := newTree(m.eng, m.root, m.log, m.forgetTree, root, cfg)
	m.mu.Lock()
	if m.trees == nil {
		m.mu.Unlock()
		return nil, newErr("tree", root, ErrClosed, nil)
	}
	m.trees[t] = struct{}{}
	m.mu.Unlock()
	t.g.AddResyncListener(t.holder())
	t.mu.Lock()
	ok := t.addLocked(t.sroot, 0)
	t.checkLocked()
	t.mu.Unlock()
	if !ok { // the Mirror closed meanwhile
		t.Close()
		return nil, newErr("tree", root, ErrClosed, nil)
	}
	if !t.grp.Go(t.apply) { // Mirror.Close shut the Tree down meanwhile
		return nil, newErr("tree", root, ErrClosed, nil)
	}
	return t, nil
}

// checkPath validates a path given to Node or Tree: ZooKeeper's rules, and a length that
// fits a request once the chroot is added.
func (m *Mirror) checkPath(path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	if sp := m.root.toServer(path); len(sp) > MaxPathLen {
		return invalidPath(path, fmt.Sprintf("%d bytes with the chroot, longer than the %d a request to the server can carry", len(sp), MaxPathLen))
	}
	return nil
}

func (m *Mirror) String() string {
	return fmt.Sprintf("zkmirror.Mirror(%s)", m.State())
}
