package zktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNotInstalled reports that java or the ZooKeeper server jar is missing.
// Installed and the Start functions return it wrapped, with a message naming
// the missing piece and telling to run `make zk`.
var ErrNotInstalled = errors.New("zktest: ZooKeeper is not installed")

const (
	// javaLibDir is where Debian's zookeeper package and its dependencies
	// put their jars.
	javaLibDir = "/usr/share/java"
	// zookeeperJar is the server jar. Its manifest Class-Path names the
	// runtime dependencies (netty, jackson, slf4j-api, ...), so it is the
	// only jar the classpath strictly needs.
	zookeeperJar = javaLibDir + "/zookeeper.jar"
	// mainClass runs both standalone servers and ensemble members.
	mainClass = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

// loggingJars bind slf4j-api to log4j 1.2 so that the server honours the
// log4j.properties each Server writes to its conf directory. They are added
// to the classpath when present; without them slf4j falls back to a no-op
// logger, which is harmless but leaves errors undiagnosable.
var loggingJars = []string{
	javaLibDir + "/slf4j-log4j12.jar",
	javaLibDir + "/log4j-1.2.jar",
}

// Installed reports whether java and the ZooKeeper server jar are available.
// It returns nil when they are, or an error wrapping ErrNotInstalled.
func Installed() error {
	if _, err := javaPath(); err != nil {
		return err
	}
	if _, err := os.Stat(zookeeperJar); err != nil {
		return fmt.Errorf("%w: %s is missing (run `make zk` to install it): %v", ErrNotInstalled, zookeeperJar, err)
	}
	return nil
}

// javaPath locates the java launcher: $JAVA_HOME/bin/java when JAVA_HOME is
// set, java from PATH otherwise.
func javaPath() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("%w: JAVA_HOME is set but %s is not executable (run `make zk` to install java): %v", ErrNotInstalled, p, err)
		}
		return p, nil
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("%w: java is not in PATH (run `make zk` to install it): %v", ErrNotInstalled, err)
	}
	return p, nil
}

// classpath returns the server classpath: the server's own conf directory
// first (so its log4j.properties wins), then the server jar and the logging
// binding jars that exist.
func classpath(confDir string) string {
	cp := confDir + string(os.PathListSeparator) + zookeeperJar
	for _, j := range loggingJars {
		if _, err := os.Stat(j); err == nil {
			cp += string(os.PathListSeparator) + j
		}
	}
	return cp
}
