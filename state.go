package zkmirror

import "github.com/zkmirror/zkmirror/session"

// State is the Mirror's connection state.
//
// Connecting holds before the first session only. Connected: a session is established.
// Suspended: the connection dropped and the session may live; snapshots keep the last known
// state and watches survive. Lost: Suspended for longer than the negotiated session timeout;
// data is stale but still readable. Expired: the server said the session is gone; the next
// state is Connected for a new session, after which the resync runs. AuthFailed: the server
// refused the credentials. Closed: the last state; after it the States channel closes.
type State int

// The states.
const (
	StateConnecting State = State(session.StateConnecting)
	StateConnected  State = State(session.StateConnected)
	StateSuspended  State = State(session.StateSuspended)
	StateLost       State = State(session.StateLost)
	StateExpired    State = State(session.StateExpired)
	StateAuthFailed State = State(session.StateAuthFailed)
	StateClosed     State = State(session.StateClosed)
)

func (s State) String() string { return session.State(s).String() }
