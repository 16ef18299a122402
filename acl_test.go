package zkmirror_test

import "github.com/go-zookeeper/zk"

var worldACL = zk.WorldACL(zk.PermAll)
