package session

import "strconv"

// State is the state of a Session as its users see it. The numbering is shared with the
// zkmirror package, which re-exports it.
type State int

// The states, in the order a session normally moves through them.
const (
	// StateConnecting: no session has been established yet.
	StateConnecting State = iota
	// StateConnected: a session is established (go-zookeeper's StateHasSession).
	StateConnected
	// StateSuspended: the connection dropped; the session may still live.
	StateSuspended
	// StateLost: suspended for longer than the negotiated session timeout; data is stale.
	StateLost
	// StateExpired: the server said the session is gone. The next state is StateConnected
	// for a new session.
	StateExpired
	// StateAuthFailed: the server refused the credentials.
	StateAuthFailed
	// StateClosed: the session was closed; the last state.
	StateClosed
)

var stateNames = [...]string{
	StateConnecting: "Connecting",
	StateConnected:  "Connected",
	StateSuspended:  "Suspended",
	StateLost:       "Lost",
	StateExpired:    "Expired",
	StateAuthFailed: "AuthFailed",
	StateClosed:     "Closed",
}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}
