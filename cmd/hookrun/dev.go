package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hookrun/hookrun/dev"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", "dev [--state DIR] [--config DIR_OR_FILE]... [--addr ADDR]", stderr)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(stderr, `
Runs the whole loop on this machine: etcd and kube-apiserver (from --bin-dir, built by 'make tools') as
child processes with their state under --state (kept across restarts), the CRDs, every manifest under
--config, and in this one process the listener, the executor and the node agent (which runs Pods as local
processes). Ctrl-C stops everything. A second 'hookrun dev' on the same --state refuses to start.

Example Secrets whose value is the placeholder "generated-by-hookrun-dev" get a random secret generated
once per --state directory (kept in STATE/secrets.json, 0600) and printed at start-up.`)
	}
	var o dev.Options
	var configs stringList
	fs.StringVar(&o.StateDir, "state", ".hookrun", "state directory: etcd data, kubeconfig, node agent (Pod dirs, PVCs, logs)")
	fs.Var(&configs, "config", "directory or file of manifests to apply at start (repeatable; default examples/github-push and examples/gitlab-mr)")
	fs.StringVar(&o.Addr, "addr", dev.DefaultAddr, "listener address (/hooks, /hooks/NAME, /livez, /readyz, /metrics); loopback by default: an address other machines reach lets them trigger runs that execute as you")
	fs.StringVar(&o.DashboardAddr, "dashboard-addr", "", "web dashboard address (default 127.0.0.1:9097, or any free loopback port when that is taken); actions (cancel, re-run) are on when it is loopback")
	fs.StringVar(&o.Namespace, "namespace", "default", "namespace the manifests go to when they name none; the listener serves EventListeners here")
	fs.StringVar(&o.EventListener, "eventlistener", "github-listener", "EventListener served at POST /hooks")
	fs.StringVar(&o.BinDir, "bin-dir", "", "where kube-apiserver and etcd are (default: beside this binary, then ./bin)")
	verbose := fs.Bool("v", false, "debug logs")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if len(configs) == 0 {
		for _, d := range []string{"examples/github-push", "examples/gitlab-mr"} {
			if _, err := os.Stat(d); err == nil {
				configs = append(configs, d)
			}
		}
	}
	o.Configs = configs
	if o.BinDir == "" {
		if exe, err := os.Executable(); err == nil {
			o.BinDir = filepath.Dir(exe)
		}
		if _, err := os.Stat(filepath.Join(o.BinDir, "kube-apiserver")); err != nil {
			o.BinDir = "bin"
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logFile, err := dev.OpenLog(o.StateDir)
	if err != nil {
		return err
	}
	defer logFile.Close()
	o.Logger = newLogger(logFile, level)
	o.Out = stdout
	return dev.Run(ctx, o)
}
