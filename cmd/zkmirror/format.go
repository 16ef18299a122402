package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zkmirror/zkmirror"
)

// statJSON is a Stat in JSON, with ZooKeeper's field names. Ctime and Mtime are
// milliseconds since the epoch.
type statJSON struct {
	Czxid          int64 `json:"czxid"`
	Mzxid          int64 `json:"mzxid"`
	Pzxid          int64 `json:"pzxid"`
	Ctime          int64 `json:"ctime"`
	Mtime          int64 `json:"mtime"`
	Version        int32 `json:"version"`
	Cversion       int32 `json:"cversion"`
	Aversion       int32 `json:"aversion"`
	EphemeralOwner int64 `json:"ephemeralOwner"`
	DataLength     int32 `json:"dataLength"`
	NumChildren    int32 `json:"numChildren"`
}

func statOf(s zkmirror.Stat) *statJSON {
	return &statJSON{
		Czxid: s.Czxid, Mzxid: s.Mzxid, Pzxid: s.Pzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: s.EphemeralOwner, DataLength: s.DataLength, NumChildren: s.NumChildren,
	}
}

// record is one line of -json output: a node's value or children, or a tree event.
type record struct {
	Event      string    `json:"event,omitempty"` // tree only
	Path       string    `json:"path"`
	Exists     bool      `json:"exists"`
	Data       *string   `json:"data,omitempty"`        // the data, when it is valid UTF-8
	DataBase64 string    `json:"data_base64,omitempty"` // the data otherwise
	Children   *[]string `json:"children,omitempty"`    // a pointer: [] is shown, absent omitted
	Nodes      *int      `json:"nodes,omitempty"`       // tree "synced": the number of nodes
	Stat       *statJSON `json:"stat,omitempty"`
	Resync     bool      `json:"resync,omitempty"`
	Restored   bool      `json:"restored,omitempty"` // from the -snapshot file, not yet confirmed by a server
	Error      string    `json:"error,omitempty"`
}

func valueRecord(v zkmirror.Value) record {
	r := record{Path: v.Path, Exists: v.Exists, Resync: v.Resync, Restored: v.Restored}
	if v.Err != nil {
		r.Error = v.Err.Error()
	}
	if v.Exists {
		if utf8.Valid(v.Data) {
			s := string(v.Data)
			r.Data = &s
		} else {
			r.DataBase64 = base64.StdEncoding.EncodeToString(v.Data)
		}
		r.Stat = statOf(v.Stat)
	}
	return r
}

func childrenRecord(c zkmirror.Children) record {
	r := record{Path: c.Path, Exists: c.Exists, Resync: c.Resync, Restored: c.Restored}
	if c.Err != nil {
		r.Error = c.Err.Error()
	}
	if c.Exists {
		names := c.Names
		if names == nil {
			names = []string{}
		}
		r.Children = &names
		r.Stat = statOf(c.Stat)
	}
	return r
}

func writeJSON(w io.Writer, r record) {
	b, err := json.Marshal(r)
	if err != nil { // a record always marshals
		panic(err)
	}
	w.Write(append(b, '\n'))
}

// showData renders node data for a human: as is when it is printable text on one line,
// quoted otherwise.
func showData(b []byte) string {
	if len(b) == 0 {
		return `""`
	}
	s := string(b)
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 ||
		strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	return s
}

// getData renders node data for get: as it is when it is text (valid UTF-8 with no control
// character but newline and tab, not starting with a double quote), Go-quoted otherwise.
func getData(b []byte) string {
	s := string(b)
	isText := utf8.ValidString(s) && !strings.HasPrefix(s, `"`) &&
		strings.IndexFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && !unicode.IsGraphic(r) }) < 0
	if isText {
		return s
	}
	return strconv.Quote(s)
}

// valueLine is a value snapshot for a human: "/p: data (version 3)", "/p: missing".
func valueLine(v zkmirror.Value) string {
	var s string
	switch {
	case v.Err != nil:
		s = fmt.Sprintf("%s: error: %v", v.Path, v.Err)
	case !v.Exists:
		s = v.Path + ": missing"
	default:
		s = fmt.Sprintf("%s: %s (version %d)", v.Path, showData(v.Data), v.Stat.Version)
	}
	if v.Resync {
		s += " [resync]"
	}
	if v.Restored {
		s += " [restored]"
	}
	return s
}

// childrenLine is a children snapshot for a human: "/p: 2 children: a b".
func childrenLine(c zkmirror.Children) string {
	var s string
	switch {
	case c.Err != nil:
		s = fmt.Sprintf("%s: error: %v", c.Path, c.Err)
	case !c.Exists:
		s = c.Path + ": missing"
	case len(c.Names) == 0:
		s = c.Path + ": no children"
	case len(c.Names) == 1:
		s = c.Path + ": 1 child: " + c.Names[0]
	default:
		s = fmt.Sprintf("%s: %d children: %s", c.Path, len(c.Names), strings.Join(c.Names, " "))
	}
	if c.Resync {
		s += " [resync]"
	}
	if c.Restored {
		s += " [restored]"
	}
	return s
}

// statLines is a Stat for a human, one field per line, as ZooKeeper's own shell shows it.
func statLines(s zkmirror.Stat) string {
	ms := func(t int64) string {
		return time.UnixMilli(t).UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf(`cZxid = %#x
ctime = %s
mZxid = %#x
mtime = %s
pZxid = %#x
cversion = %d
dataVersion = %d
aclVersion = %d
ephemeralOwner = %#x
dataLength = %d
numChildren = %d
`, s.Czxid, ms(s.Ctime), s.Mzxid, ms(s.Mtime), s.Pzxid, s.Cversion, s.Version, s.Aversion,
		s.EphemeralOwner, s.DataLength, s.NumChildren)
}
