// Multi-call etcd v3.6 binary: "etcd" (server) and "etcdctl", chosen by argv[0]
// basename (symlinks) or by the first argument ("./etcd etcdctl version").
// With any other name and no recognised first argument it runs the server.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/etcd/etcdctl/v3/ctlv3"
	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	name := filepath.Base(os.Args[0])
	if !strings.HasPrefix(name, "etcdctl") && len(os.Args) > 1 {
		switch os.Args[1] {
		case "etcdctl", "etcd":
			name = os.Args[1]
			os.Args = os.Args[1:]
		}
	}
	if strings.HasPrefix(name, "etcdctl") {
		ctlv3.MustStart()
		return
	}
	etcdmain.Main(os.Args)
}
