// Command etcd builds the etcd server used by hookrun's tests and `hookrun dev`.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
