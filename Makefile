# zkmirror — build, test, demo and benchmark targets.
# `make test` is the test command CI runs. It and the targets that run ZooKeeper install what
# they need when it is missing, from Debian's packages (as root): `make zk` ZooKeeper and Java,
# `make deps` those and the C compiler that `go test -race` needs.

GO ?= go
ZK_JAR ?= /usr/share/java/zookeeper.jar
JAVA ?= java
# The C compiler cgo, and so -race, uses.
RACE_CC ?= $$($(GO) env CC)
# apt-get; APT_GET=echo shows what would be installed.
APT_GET ?= apt-get

.PHONY: all zk deps test chaos demo bench fuzz vet

all: test

# Shell commands that print the Debian packages to install: ZooKeeper (3.8) and Java; a C
# compiler and the C library's headers (a test compile of a program that includes one).
zk_missing = [ -f $(ZK_JAR) ] || echo zookeeper; \
	command -v $(JAVA) >/dev/null 2>&1 || echo default-jre-headless
cc_missing = printf '\#include <stdlib.h>\nint main(void) { return 0; }\n' | \
	$(RACE_CC) -x c -o /dev/null - >/dev/null 2>&1 || echo gcc libc6-dev

# $(call install_missing,what,commands printing the packages): apt-get update, then install
# the packages, if there are any.
install_missing = missing=$$(echo $$( { $(2); } )); \
	if [ -z "$$missing" ]; then \
		echo "$(1): installed"; \
	else \
		echo "$(1): installing $$missing from Debian packages"; \
		$(APT_GET) update && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y $$missing; \
	fi

# ZooKeeper and Java, when missing.
zk:
	@$(call install_missing,zookeeper,$(zk_missing))

# Everything make test needs: ZooKeeper, Java and a C compiler, when missing.
deps:
	@$(call install_missing,test dependencies,$(zk_missing); $(cc_missing))

vet:
	$(GO) vet ./...

# One package at a time: several packages run ZooKeeper servers, and on a small machine their
# fault tests are fairer without each other's load.
test: deps vet
	$(GO) test -race -count=1 -p 1 -timeout 30m ./...

# The fault-injection suite with 50 trials (make test runs 3); ZKMIRROR_CHAOS_SEED replays one.
chaos: zk
	ZKMIRROR_CHAOS_TRIALS=50 $(GO) test -race -count=1 -timeout 60m -run 'Chaos' -v ./chaos/

# Starts a throwaway ZooKeeper, runs the configwatch example while a writer changes its node,
# stops the server.
demo: zk
	$(GO) run ./examples/demo

bench: zk
	$(GO) run ./bench -out bench-results.json

fuzz: zk
	$(GO) test -run '^$$' -fuzz FuzzValidatePath -fuzztime 30s .
	$(GO) test -run '^$$' -fuzz FuzzSnapshotDecode -fuzztime 30s .
