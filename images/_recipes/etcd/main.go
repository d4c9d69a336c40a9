// Multi-call etcd binary (the go.mod of each etcd minor, v3.N/, pins which
// release): "etcd" (the server), "etcdctl" (its client) and "etcdutl"
// (offline tools: snapshot restore and status, which etcdctl no longer has
// since 3.6), chosen by argv[0]'s basename (symlinks) or by the
// first argument ("./etcd etcdutl version"). With any other name and no
// recognised first argument it runs the server.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/etcdctl/v3/ctlv3"
	"go.etcd.io/etcd/etcdutl/v3/etcdutl"
	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	name := filepath.Base(os.Args[0])
	if !strings.HasPrefix(name, "etcdctl") && !strings.HasPrefix(name, "etcdutl") && len(os.Args) > 1 {
		switch os.Args[1] {
		case "etcdctl", "etcdutl", "etcd":
			name = os.Args[1]
			os.Args = os.Args[1:]
		}
	}
	switch {
	case strings.HasPrefix(name, "etcdctl"):
		ctlv3.MustStart()
	case strings.HasPrefix(name, "etcdutl"):
		if err := utl().Execute(); err != nil {
			os.Exit(1)
		}
	default:
		etcdmain.Main(os.Args)
	}
}

// utl is etcdutl's command tree, as etcdutl's own main builds it (that
// package is a main, so it cannot be imported).
func utl() *cobra.Command {
	root := &cobra.Command{Use: "etcdutl", Short: "An administrative command line tool for etcd3."}
	root.PersistentFlags().StringVarP(&etcdutl.OutputFormat, "write-out", "w", "simple", "set the output format (fields, json, protobuf, simple, table)")
	root.AddCommand(
		etcdutl.NewDefragCommand(),
		etcdutl.NewSnapshotCommand(),
		etcdutl.NewHashKVCommand(),
		etcdutl.NewVersionCommand(),
		etcdutl.NewMigrateCommand(),
	)
	return root
}
