package progtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkmirror/zkmirror/leaktest"
)

// runMake runs make in the repository's root with the given arguments and returns its
// output; the Makefile's commands are replaced through its variables (GO, APT_GET, ...).
func runMake(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "-C", "../.."}, args...)...)
	// Not the flags and variables of a make this test may run under.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestMakeTestInstallsWhatItNeeds: make test, run first on a machine that lacks ZooKeeper,
// Java or a C compiler, installs them (apt-get update, then install) before it runs the
// tests; on a machine that has them it installs nothing. apt-get and go are replaced by
// echo, which shows the commands make runs, in order.
func TestMakeTestInstallsWhatItNeeds(t *testing.T) {
	leaktest.Check(t)
	jar := filepath.Join(t.TempDir(), "zookeeper.jar")
	if err := os.WriteFile(jar, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	out, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		t.Fatal(err)
	}
	cc := "RACE_CC=" + strings.TrimSpace(string(out)) // GO=echo cannot tell it
	for _, c := range []struct {
		name     string
		vars     []string
		packages string // "": nothing to install
	}{
		{"nothing missing", []string{"ZK_JAR=" + jar, "JAVA=sh", cc}, ""},
		{"all missing", []string{"ZK_JAR=" + missing, "JAVA=" + missing, "RACE_CC=" + missing}, "zookeeper default-jre-headless gcc libc6-dev"},
		{"zookeeper missing", []string{"ZK_JAR=" + missing, "JAVA=sh", cc}, "zookeeper"},
		{"java missing", []string{"ZK_JAR=" + jar, "JAVA=" + missing, cc}, "default-jre-headless"},
		{"C compiler missing", []string{"ZK_JAR=" + jar, "JAVA=sh", "RACE_CC=" + missing}, "gcc libc6-dev"},
	} {
		out := runMake(t, append([]string{"test", "GO=echo", "APT_GET=echo"}, c.vars...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		want := []string{"test dependencies: installed"}
		if c.packages != "" {
			want = []string{
				"test dependencies: installing " + c.packages + " from Debian packages",
				"update",
				"install -y " + c.packages,
			}
		}
		want = append(want, "vet ./...", "test -race -count=1 -p 1 -timeout 30m ./...")
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: make test ran:\n%s\nwant:\n%s", c.name, out, strings.Join(want, "\n"))
		}
	}

	// make zk, which the demo and the other targets that run ZooKeeper depend on, installs
	// ZooKeeper and Java only.
	zkOut := runMake(t, "zk", "APT_GET=echo", "ZK_JAR="+missing, "JAVA="+missing, "RACE_CC="+missing)
	if want := "zookeeper: installing zookeeper default-jre-headless from Debian packages\nupdate\ninstall -y zookeeper default-jre-headless\n"; zkOut != want {
		t.Errorf("make zk ran:\n%s\nwant:\n%s", zkOut, want)
	}
}
