package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// snapshotsCmd is RKE's etcd-rolling-snapshots: on an etcd node, a
// snapshot of its member now and then every --interval into --dir as
// auto-<UTC time>.db, keeping the newest --retention of them. The rest of
// the arguments are etcdctl and its flags (endpoint, certificates). It
// answers "ok" on --health while its last snapshot succeeded (or none was
// due yet), and the failure otherwise.
func snapshotsCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("etcd-snapshots", flag.ContinueOnError)
	interval := fs.Duration("interval", 12*time.Hour, "time between snapshots")
	retention := fs.Int("retention", 6, "snapshots kept")
	dir := fs.String("dir", "", "where snapshots go")
	health := fs.String("health", "127.0.0.1:2382", "health endpoint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() == 0 || *interval < time.Minute || *retention < 1 {
		return errors.New("etcd-snapshots: --dir DIR --interval >=1m --retention >=1 ETCDCTL [FLAGS...]")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	var last atomic.Value
	last.Store("")
	l, err := net.Listen("tcp", *health)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if msg := last.Load().(string); msg != "" {
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	for {
		if err := snapshotOnce(ctx, *dir, *retention, fs.Args()); err != nil {
			fmt.Fprintln(os.Stderr, "etcd-snapshots:", err)
			last.Store(err.Error())
		} else {
			last.Store("")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// snapshotOnce takes one snapshot, written under a temporary name and
// renamed when complete, then removes the oldest beyond retention.
func snapshotOnce(ctx context.Context, dir string, retention int, etcdctl []string) error {
	name := "auto-" + time.Now().UTC().Format("20060102T150405Z") + ".db"
	part := filepath.Join(dir, "."+name+".part")
	cmd := exec.CommandContext(ctx, etcdctl[0], append(etcdctl[1:], "--command-timeout=5m", "snapshot", "save", part)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(part)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return fmt.Errorf("snapshot %s: %v: %s", name, err, lines[len(lines)-1])
	}
	if err := os.Rename(part, filepath.Join(dir, name)); err != nil {
		return err
	}
	fmt.Println("etcd-snapshots: saved", name)
	kept, _ := filepath.Glob(filepath.Join(dir, "auto-*.db"))
	sort.Strings(kept) // the names sort by time
	for len(kept) > retention {
		if err := os.Remove(kept[0]); err == nil {
			fmt.Println("etcd-snapshots: removed", filepath.Base(kept[0]))
		}
		kept = kept[1:]
	}
	return nil
}
