package zkmirror

import (
	"math"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/engine"
)

// packetLimit is the largest request a ZooKeeper server accepts with its default
// jute.maxbuffer: a request whose encoded length (after its 4-byte length prefix) exceeds
// 0xfffff bytes makes the server drop the connection, which every path on the Mirror
// suffers. Requests that would not fit are refused before they are sent.
const packetLimit = 0xfffff

// Encoded sizes of go-zookeeper's requests (jute's encoding: an int32 takes 4 bytes, an
// int64 8, a bool 1, a string or a byte slice a 4-byte length and its bytes, a list a
// 4-byte count and its elements). Every request starts with a header: xid and opcode.
const (
	headerSize = 4 + 4
	// setWatchesFixed is go-zookeeper's SetWatches request without its paths: the header,
	// the relative zxid and the counts of its three path lists. After a reconnect it
	// re-arms the watches of each path in such a request, a long path alone in one.
	setWatchesFixed = headerSize + 8 + 3*4
)

// MaxPathLen is the longest path, counted on the server (with the chroot) in bytes, that
// Node and Tree accept: the longest for which every request the mirror sends for the path
// fits the server's packet limit, the largest being go-zookeeper's SetWatches re-arming
// the path's watch alone. A Create may need a shorter path: see Node.Create.
const MaxPathLen = packetLimit - setWatchesFixed - 4

// MaxDataSizeLimit is the largest WithMaxDataSize accepts: the data of a Set of "/" that
// just fits the server's packet limit. Any other write carries more besides its data.
const MaxDataSizeLimit = packetLimit - setRequestFixed - len("/")

// Bounds of the other options.
const (
	MinSessionTimeout = time.Millisecond
	// MaxSessionTimeout is the longest timeout 32-bit milliseconds hold (about 24.8 days).
	MaxSessionTimeout = math.MaxInt32 * time.Millisecond
)

const (
	// setRequestFixed is a SetData request without its path's and data's bytes: header,
	// path length, data length, version.
	setRequestFixed = headerSize + 4 + 4 + 4
	// createRequestFixed is a Create request without its path's and data's bytes and its
	// ACL (see aclSize): header, path length, data length, flags.
	createRequestFixed = headerSize + 4 + 4 + 4
	// ttlSize is what a TTL create adds: the TTL in milliseconds.
	ttlSize = 8
	// authRequestFixed is an AddAuth request without its scheme's and credential's bytes:
	// header, type, scheme length, credential length.
	authRequestFixed = headerSize + 4 + 4 + 4
	// protectedNameExtra is what a protected create adds to the node's name: "_c_", 32 hex
	// digits of GUID and "-".
	protectedNameExtra = len(engine.ProtectedPrefix) + 32 + 1
	// sequenceDigits is what the server appends to a sequential node's name.
	sequenceDigits = 10
)

// aclSize is the encoded size of an ACL list: its count and, per entry, the permissions,
// the scheme and the id.
func aclSize(acl []zk.ACL) int {
	n := 4
	for _, a := range acl {
		n += 4 + 4 + len(a.Scheme) + 4 + len(a.ID)
	}
	return n
}

// setRequestSize is the encoded size of a SetData request.
func setRequestSize(spath string, data int) int {
	return setRequestFixed + len(spath) + data
}

// createRequestSize is the encoded size of the Create request for spath as sent: with the
// protected name's marker for an ephemeral sequential node and the TTL for a TTL node.
func createRequestSize(spath string, data int, acl []zk.ACL, cc createConfig) int {
	n := createRequestFixed + len(spath) + data + aclSize(acl)
	if cc.ttlSet {
		n += ttlSize
	}
	if cc.ephemeral && cc.sequential {
		n += protectedNameExtra
	}
	return n
}

// createdPathLen is the length of the path a Create of spath makes.
func createdPathLen(spath string, cc createConfig) int {
	n := len(spath)
	if cc.sequential {
		n += sequenceDigits
	}
	if cc.ephemeral && cc.sequential && !cc.ttlSet && !cc.container {
		n += protectedNameExtra
	}
	return n
}

// authRequestSize is the encoded size of an AddAuth request.
func authRequestSize(scheme string, auth int) int {
	return authRequestFixed + len(scheme) + auth
}
