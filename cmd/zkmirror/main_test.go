package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkmirror/zkmirror/internal/progtest"
	"github.com/zkmirror/zkmirror/internal/zktest"
	"github.com/zkmirror/zkmirror/leaktest"
)

// zkc is the standalone server the package's tests share.
var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	progtest.RunAsProgram(main)
	zktest.Main(m, zktest.Options{}, func(c *zktest.Cluster) { zkc = c })
}

const wait = 15 * time.Second

// runCmd runs the built command to its end and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr progtest.Output
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := progtest.ExitCode(ctx, t, &stdout, &stderr, args...)
	return code, stdout.String(), stderr.String()
}

// background runs the built command until the returned stop function interrupts it (SIGINT);
// stop returns its exit code.
func background(t *testing.T, stdout, stderr *progtest.Output, args ...string) (stop func() int) {
	t.Helper()
	return progtest.Start(t, func(ctx context.Context) int { return progtest.ExitCode(ctx, t, stdout, stderr, args...) })
}

// rawClient is a plain go-zookeeper client for writing behind the command's back.
func rawClient(t *testing.T) *zk.Conn { return progtest.RawClient(t, zkc.Addrs()) }

var worldACL = zk.WorldACL(zk.PermAll)

// create creates the node at path with data; it fails the test if the node exists or its
// parent does not.
func create(t *testing.T, conn *zk.Conn, path, data string) {
	t.Helper()
	if _, err := conn.Create(path, []byte(data), 0, worldACL); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
}

func servers() string { return strings.Join(zkc.Addrs(), ",") }

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestGet(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "hello")
	if _, err := raw.Set(p, []byte("hello, world"), -1); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCmd(t, "-servers", servers(), "get", p)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	lines := strings.Split(stdout, "\n")
	if lines[0] != "hello, world" || !strings.Contains(stdout, "\ndataVersion = 1\n") || !strings.Contains(stdout, "\nnumChildren = 0\n") {
		t.Fatalf("stdout:\n%s", stdout)
	}
	if stderr != "" {
		t.Errorf("get without -v wrote to stderr:\n%s", stderr)
	}
	code, _, stderr = runCmd(t, "-v", "-servers", servers(), "get", p)
	if code != 0 || !strings.Contains(stderr, "zkmirror: connecting to "+servers()+"\n") || !strings.Contains(stderr, "zkmirror: connected\n") {
		t.Errorf("get -v: exit %d, stderr lacks the connection:\n%s", code, stderr)
	}

	// Flags after the command and the path, JSON.
	code, stdout, stderr = runCmd(t, "get", p, "-json", "-servers", servers())
	if code != 0 {
		t.Fatalf("-json: exit %d, stderr:\n%s", code, stderr)
	}
	var r record
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("-json output %q: %v", stdout, err)
	}
	if r.Path != p || !r.Exists || r.Data == nil || *r.Data != "hello, world" || r.Stat == nil || r.Stat.Version != 1 || r.Stat.DataLength != 12 {
		t.Fatalf("-json: %s", stdout)
	}
	if strings.Count(stdout, "\n") != 1 {
		t.Fatalf("-json: want one line, got %q", stdout)
	}
}

func TestGetBinaryJSON(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "\xff\x00\x01")
	code, stdout, stderr := runCmd(t, "-servers", servers(), "-json", "get", p)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var r record
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Data != nil || r.DataBase64 != "/wAB" {
		t.Fatalf("binary data: %s", stdout)
	}
}

func TestGetChildren(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "")
	for _, name := range []string{"b", "a", "c"} {
		create(t, raw, p+"/"+name, "")
	}
	code, stdout, stderr := runCmd(t, "-servers", servers(), "-children", "get", p)
	if code != 0 || stdout != "a\nb\nc\n" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, "-servers", servers(), "-children", "-json", "get", p)
	var r record
	if code != 0 || json.Unmarshal([]byte(stdout), &r) != nil || r.Children == nil || strings.Join(*r.Children, ",") != "a,b,c" || r.Stat.NumChildren != 3 {
		t.Fatalf("-json: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

func TestGetMissing(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	code, stdout, stderr := runCmd(t, "-servers", servers(), "get", p)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "zkmirror: "+p+": no such node") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	code, _, stderr = runCmd(t, "-servers", servers(), "-children", "get", p)
	if code != 1 || !strings.Contains(stderr, "no such node") {
		t.Fatalf("-children: exit %d, stderr:\n%s", code, stderr)
	}
	// -json prints the object, as watch -json does, and still exits 1.
	for _, args := range [][]string{{"-json"}, {"-json", "-children"}} {
		code, stdout, stderr = runCmd(t, append(args, "-servers", servers(), "get", p)...)
		if want := `{"path":"` + p + `","exists":false}` + "\n"; code != 1 || stdout != want || !strings.Contains(stderr, "no such node") {
			t.Fatalf("%q: exit %d, stdout %q, want exit 1 and %q; stderr:\n%s", args, code, stdout, want, stderr)
		}
	}
}

// TestGetData: get prints text as it is and anything else Go-quoted on one line.
func TestGetData(t *testing.T) {
	leaktest.Check(t)
	raw := rawClient(t)
	for i, c := range []struct{ data, want string }{
		{"line one\nline two\n", "line one\nline two\n"},
		{"tab\tseparated", "tab\tseparated\n"},
		{"\xff\x00\x01", `"\xff\x00\x01"` + "\n"},
		{"bell\a", `"bell\a"` + "\n"},
		{"\x1b[31mred", `"\x1b[31mred"` + "\n"},
		{`"quoted"`, `"\"quoted\""` + "\n"},
		{"", "\n"},
	} {
		p := progtest.UniquePath(t) + "-" + strconv.Itoa(i)
		create(t, raw, p, c.data)
		code, stdout, stderr := runCmd(t, "-servers", servers(), "get", p)
		if code != 0 || !strings.HasPrefix(stdout, c.want+"cZxid = ") {
			t.Errorf("data %q: exit %d, stdout:\n%s\nwant it to start with %q; stderr:\n%s", c.data, code, stdout, c.want, stderr)
		}
	}
}

func TestServersFromEnvironmentAndChroot(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "")
	create(t, raw, p+"/conf", "inside")
	t.Setenv("ZOOKEEPER_SERVERS", servers()+p)
	code, stdout, stderr := runCmd(t, "get", "/conf")
	if code != 0 || !strings.HasPrefix(stdout, "inside\n") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// TestBadPathCheckedFirst: a bad PATH is refused, saying what is wrong with it, before
// anything is sent: the server's port sees no connection.
func TestBadPathCheckedFirst(t *testing.T) {
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for _, c := range []struct{ cmd, path, why string }{
		{"get", "/a//b", "empty node name"},
		{"watch", "/a/", "a path does not end with /"},
		{"tree", "/a/../b", "relative paths are not allowed"},
		{"get", "/a/\x01", "control character U+0001"},
	} {
		code, stdout, stderr := runCmd(t, "-v", "-servers", addr, c.cmd, c.path)
		if want := "zkmirror: invalid PATH " + strconv.Quote(c.path) + ": " + c.why + "\n"; code != 2 || stdout != "" || stderr != want {
			t.Errorf("%s %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.cmd, c.path, code, stdout, stderr, want)
		}
	}
	// A connection made by any of them is queued on the listener, even once closed.
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
	if conn, err := ln.Accept(); err == nil {
		conn.Close()
		t.Fatal("a command with a bad PATH connected to the server")
	}
}

func TestNoServer(t *testing.T) {
	leaktest.Check(t)
	addr := deadAddr(t)
	for _, cmd := range []string{"get", "watch", "tree"} {
		start := time.Now()
		code, stdout, stderr := runCmd(t, "-servers", addr, "-timeout", "1s", cmd, "/x")
		if code != 1 || stdout != "" {
			t.Fatalf("%s: exit %d, stdout %q, stderr:\n%s", cmd, code, stdout, stderr)
		}
		if want := "zkmirror: connection refused by " + addr + " (retried for 1s"; !strings.Contains(stderr, want) {
			t.Fatalf("%s: stderr lacks %q:\n%s", cmd, want, stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%s: took %v with -timeout 1s", cmd, d)
		}
	}
}

// TestRefusedThenServing: a refused connection is retried within -timeout; -v shows the
// refusal. Once something listens on the port, the command gets its answer.
func TestRefusedThenServing(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	create(t, rawClient(t), p, "late")
	addr := deadAddr(t)
	var stdout, stderr progtest.Output
	stop := background(t, &stdout, &stderr, "-v", "-timeout", "60s", "-servers", addr, "get", p)
	stderr.Expect(t, "zkmirror: dial tcp "+addr+": connect: connection refused; retrying", wait)

	fwd := forward(t, addr, zkc.Addrs()[0])
	stdout.Expect(t, "late", 30*time.Second)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	fwd()
}

// forward listens on addr and forwards every connection to target until the returned
// function (also run at cleanup) closes everything and waits for its goroutines.
func forward(t *testing.T, addr, target string) func() {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
		done  bool
	)
	keep := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if done {
			c.Close()
			return false
		}
		conns = append(conns, c)
		return true
	}
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			if !keep(in) || !keep(out) {
				in.Close()
				out.Close()
				continue
			}
			wg.Go(func() { io.Copy(out, in); out.Close() })
			wg.Go(func() { io.Copy(in, out); in.Close() })
		}
	})
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			done = true
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestNoAnswer: a port that accepts and never answers is not a refusal.
func TestNoAnswer(t *testing.T) {
	leaktest.Check(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var held []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	})
	defer func() {
		ln.Close()
		wg.Wait()
		for _, c := range held {
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	code, stdout, stderr := runCmd(t, "-servers", addr, "-timeout", "1s", "get", "/x")
	if want := "zkmirror: no ZooKeeper server answered at " + addr + " within 1s"; code != 1 || stdout != "" || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 1 and %q", code, stdout, stderr, want)
	}
}

func TestUsage(t *testing.T) {
	leaktest.Check(t)
	dead := deadAddr(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: zkmirror"},
		{[]string{"-h"}, 0, "usage: zkmirror"},
		{[]string{"-nope", "get", "/x"}, 2, "flag provided but not defined: -nope"},
		{[]string{"frob", "/x"}, 2, `unknown command "frob"`},
		{[]string{"get"}, 2, "get takes one PATH, got 0 arguments"},
		{[]string{"get", "/a", "/b"}, 2, "get takes one PATH, got 2 arguments"},
		{[]string{"get", "x"}, 2, `PATH "x" must start with /`},
		{[]string{"-servers", dead, "get", "/a/"}, 2, `zkmirror: invalid PATH "/a/": a path does not end with /`},
		{[]string{"-timeout", "0", "get", "/x"}, 2, "-timeout must be positive"},
		{[]string{"-debounce", "1s", "get", "/x"}, 2, "-debounce does not apply to get"},
		{[]string{"-debounce", "-1s", "watch", "/x"}, 2, "-debounce must not be negative"},
		{[]string{"-children", "tree", "/x"}, 2, "-children does not apply to tree"},
		{[]string{"-depth", "1", "get", "/x"}, 2, "-depth applies to tree only"},
		{[]string{"-servers", ",", "get", "/x"}, 2, "-servers names no server"},
		{[]string{"-servers", "127.0.0.1:99999", "get", "/x"}, 2, `zkmirror: -servers "127.0.0.1:99999": bad server address "127.0.0.1:99999": bad port`},
		{[]string{"-servers", "127.0.0.1:x", "watch", "/x"}, 2, "bad port"},
		{[]string{"-servers", "[::1", "tree", "/x"}, 2, "missing ']'"},
		{[]string{"-servers", dead + "/a//b", "get", "/x"}, 2, `zkmirror: -servers "` + dead + `/a//b": empty node name`},
		{[]string{"-timeout", "soon", "get", "/x"}, 2, "invalid value"},
	} {
		code, stdout, stderr := runCmd(t, c.args...)
		if code != c.code || stdout != "" || !strings.Contains(stderr, c.want) {
			t.Errorf("zkmirror %q: exit %d, stdout %q, stderr:\n%s\nwant exit %d and %q", c.args, code, stdout, stderr, c.code, c.want)
		}
	}
}

func TestWatch(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	var stdout, stderr progtest.Output
	stop := background(t, &stdout, &stderr, "watch", "-servers", servers(), p)

	stdout.Expect(t, p+": missing", wait)
	create(t, raw, p, "one")
	stdout.Expect(t, p+": one (version 0)", wait)
	if _, err := raw.Set(p, []byte("two words"), -1); err != nil {
		t.Fatal(err)
	}
	stdout.Expect(t, p+": two words (version 1)", wait)
	if _, err := raw.Set(p, []byte(" padded\n"), -1); err != nil {
		t.Fatal(err)
	}
	stdout.Expect(t, p+`: " padded\n" (version 2)`, wait)
	if err := raw.Delete(p, -1); err != nil {
		t.Fatal(err)
	}
	stdout.Expect(t, p+": missing", wait)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d after an interrupt, stderr:\n%s", code, stderr.String())
	}
}

func TestWatchChildrenJSON(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "")
	var stdout, stderr progtest.Output
	stop := background(t, &stdout, &stderr, "-servers", servers(), "-json", "-children", "watch", p)

	stdout.Expect(t, `"children":[]`, wait)
	create(t, raw, p+"/x", "")
	line := stdout.Expect(t, `"children":["x"]`, wait)
	var r record
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	if r.Path != p || !r.Exists || r.Stat == nil || r.Stat.NumChildren != 1 || r.Stat.Cversion != 1 {
		t.Fatalf("%s", line)
	}
	if err := raw.Delete(p+"/x", -1); err != nil {
		t.Fatal(err)
	}
	if err := raw.Delete(p, -1); err != nil {
		t.Fatal(err)
	}
	stdout.Expect(t, `{"path":"`+p+`","exists":false}`, wait)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestWatchDebounce(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "0")
	var stdout, stderr progtest.Output
	stop := background(t, &stdout, &stderr, "-servers", servers(), "-debounce", "200ms", "watch", p)
	stdout.Expect(t, p+": 0 (version 0)", wait)
	for i := 1; i <= 5; i++ {
		if _, err := raw.Set(p, []byte{byte('0' + i)}, -1); err != nil {
			t.Fatal(err)
		}
	}
	stdout.Expect(t, p+": 5 (version 5)", wait)
	time.Sleep(400 * time.Millisecond)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if lines := stdout.Lines(); len(lines) != 2 {
		t.Fatalf("a burst of 5 writes within the debounce period printed more than one line:\n%s", stdout.String())
	}
}

func TestTree(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "root")
	create(t, raw, p+"/a", "A")
	create(t, raw, p+"/a/x", "AX")
	create(t, raw, p+"/b", "")
	var stdout, stderr progtest.Output
	stop := background(t, &stdout, &stderr, "-servers", servers(), "tree", p)

	stderr.Expect(t, "zkmirror: 4 nodes; watching for changes", wait)
	want := []string{p + ": root (version 0)", p + "/a: A (version 0)", p + "/a/x: AX (version 0)", p + `/b: "" (version 0)`}
	stdout.Expect(t, want[len(want)-1], wait) // stdout and stderr are separate pipes
	if got := stdout.Lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("listing:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	create(t, raw, p+"/b/y", "BY")
	stdout.Expect(t, "created "+p+"/b/y: BY (version 0)", wait)
	if _, err := raw.Set(p+"/a", []byte("A2"), -1); err != nil {
		t.Fatal(err)
	}
	stdout.Expect(t, "changed "+p+"/a: A2 (version 1)", wait)
	if err := raw.Delete(p+"/a/x", -1); err != nil {
		t.Fatal(err)
	}
	stdout.Expect(t, "deleted "+p+"/a/x", wait)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestTreeJSONDepthAndMissingRoot(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	var stdout, stderr progtest.Output
	stop := background(t, &stdout, &stderr, "-servers", servers(), "-json", "-depth", "1", "tree", p)

	stdout.Expect(t, `{"event":"node","path":"`+p+`","exists":false}`, wait)
	stdout.Expect(t, `{"event":"synced","path":"`+p+`","exists":false,"nodes":0}`, wait)
	create(t, raw, p, "r")
	stdout.Expect(t, `{"event":"created","path":"`+p+`","exists":true,"data":"r"`, wait)
	create(t, raw, p+"/a", "")
	stdout.Expect(t, `{"event":"created","path":"`+p+`/a","exists":true,"data":""`, wait)

	// A node below -depth 1, kept while later changes within the depth are printed: a tree
	// that mirrored it would have printed it by the time they show (each takes a round trip
	// or two after it).
	create(t, raw, p+"/a/deep", "beyond -depth 1")
	create(t, raw, p+"/b", "marker")
	stdout.Expect(t, `{"event":"created","path":"`+p+`/b","exists":true,"data":"marker"`, wait)
	if _, err := raw.Set(p+"/b", []byte("marker 2"), -1); err != nil {
		t.Fatal(err)
	}
	stdout.Expect(t, `{"event":"changed","path":"`+p+`/b","exists":true,"data":"marker 2"`, wait)

	if err := raw.Delete(p+"/a/deep", -1); err != nil {
		t.Fatal(err)
	}
	if err := raw.Delete(p+"/a", -1); err != nil {
		t.Fatal(err)
	}
	line := stdout.Expect(t, `"path":"`+p+`/a"`, wait)
	var r record
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	if r.Event != "deleted" || r.Exists {
		t.Fatalf("after deleting %s/a: %s", p, line)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "deep") {
		t.Errorf("a node created below -depth 1 was shown:\n%s", stdout.String())
	}

	// The initial listing, which is complete once synced: the same depth applies.
	create(t, raw, p+"/a", "")
	create(t, raw, p+"/a/deep", "beyond -depth 1")
	var listing, listingErr progtest.Output
	stop = background(t, &listing, &listingErr, "-servers", servers(), "-json", "-depth", "1", "tree", p)
	synced := listing.Expect(t, `"event":"synced"`, wait)
	if want := `{"event":"synced","path":"` + p + `","exists":true,"nodes":3}`; synced != want {
		t.Errorf("second run: %s, want %s", synced, want)
	}
	if code := stop(); code != 0 {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, listingErr.String())
	}
	if strings.Contains(listing.String(), "deep") {
		t.Errorf("a node below -depth 1 was listed:\n%s", listing.String())
	}
}

func TestTreeDebounce(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	raw := rawClient(t)
	create(t, raw, p, "")
	var stdout, stderr progtest.Output
	stop := background(t, &stdout, &stderr, "-servers", servers(), "-debounce", "300ms", "tree", p)
	stderr.Expect(t, "1 node; watching", wait)
	create(t, raw, p+"/first", "")
	stdout.Expect(t, "created "+p+"/first", wait)
	time.Sleep(50 * time.Millisecond)
	// The command now pauses after printing that: these changes merge into one event.
	create(t, raw, p+"/n", "1")
	for i := 2; i <= 4; i++ {
		if _, err := raw.Set(p+"/n", []byte{byte('0' + i)}, -1); err != nil {
			t.Fatal(err)
		}
	}
	stdout.Expect(t, p+"/n: 4 (version 3)", wait)
	if code := stop(); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	// Four writes, merged into fewer lines. (The Tree may hand over one event it took before
	// the burst ended, hence up to two.)
	if n := strings.Count(stdout.String(), p+"/n"); n > 2 {
		t.Fatalf("%d lines about %s/n for 4 writes during a pause, want at most 2:\n%s", n, p, stdout.String())
	}
}

// TestSnapshotFlag: with -snapshot, what a run mirrored is kept in the file, and a later run
// that no server answers shows it, marked restored, instead of failing.
func TestSnapshotFlag(t *testing.T) {
	leaktest.Check(t)
	p := progtest.UniquePath(t)
	create(t, rawClient(t), p, "kept")
	file := filepath.Join(t.TempDir(), "mirror.snap")
	code, stdout, stderr := runCmd(t, "-servers", servers(), "-snapshot", file, "get", p)
	if code != 0 || !strings.HasPrefix(stdout, "kept\n") {
		t.Fatalf("with a server: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", st, err)
	}

	dead := deadAddr(t)
	code, stdout, stderr = runCmd(t, "-servers", dead, "-snapshot", file, "-timeout", "1s", "-json", "get", p)
	if code != 0 || !strings.Contains(stdout, `"data":"kept"`) || !strings.Contains(stdout, `"restored":true`) {
		t.Fatalf("no server, -json: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "as the snapshot file "+file+" has it") {
		t.Fatalf("no server: stderr does not say the state is the file's:\n%s", stderr)
	}
	var out, errOut progtest.Output
	stop := background(t, &out, &errOut, "-servers", dead, "-snapshot", file, "-timeout", "1s", "watch", p)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), p+": kept (version 0) [restored]") {
		if time.Now().After(deadline) {
			t.Fatalf("watch with no server: stdout %q, stderr:\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()

	// Without -snapshot, or with a file that does not hold the path, no server is a failure.
	code, _, _ = runCmd(t, "-servers", dead, "-timeout", "1s", "get", p)
	if code != 1 {
		t.Fatalf("no server, no snapshot: exit %d, want 1", code)
	}
	code, _, _ = runCmd(t, "-servers", dead, "-snapshot", file, "-timeout", "1s", "get", p+"-other")
	if code != 1 {
		t.Fatalf("no server, path not in the snapshot: exit %d, want 1", code)
	}
}
