# zkmirror — build, test, demo and benchmark targets.
# `make test` is the test command CI runs; `make zk` installs ZooKeeper when missing.

GO ?= go
ZK_JAR := /usr/share/java/zookeeper.jar

.PHONY: all zk test chaos demo bench fuzz vet

all: test

# ZooKeeper from Debian's packages (3.8), plus java, when missing.
zk:
	@if [ -f $(ZK_JAR) ] && command -v java >/dev/null 2>&1; then \
		echo "zookeeper: installed"; \
	else \
		echo "zookeeper: installing from Debian packages"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper; \
	fi

vet:
	$(GO) vet ./...

# One package at a time: several packages run ZooKeeper servers, and on a small machine their
# fault tests are fairer without each other's load.
test: vet
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
