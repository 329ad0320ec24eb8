package node_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/hookrun/hookrun/node"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

// TestMain doubles as a stand-in for the hookrun binary: the agent under test uses this test binary as its
// SelfPath, so it must answer the commands the agent (and the Pods of these tests) invoke on hookrun:
//
//	node exec-in-mounts SPEC   the real mount helper (node.ExecInMounts), exactly as cmd/hookrun calls it
//	step init --copy-self DST  copies this executable to DST, like the executor's prepare step
//	version                    prints "hookrun stand-in" with its arguments and executable path
//	node-agent KUBECONFIG NODE STATE  runs a real agent in this process (to kill it with SIGKILL)
//
// go test never passes such arguments (its own start with -test.), so the normal path is unaffected.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		os.Exit(standIn(os.Args[1:]))
	}
	controlplane.Main(m, &env)
}

func standIn(args []string) int {
	switch {
	case len(args) >= 2 && args[0] == "node" && args[1] == node.ExecInMountsCommand:
		return node.ExecInMounts(args[2:])
	case len(args) == 4 && args[0] == "step" && args[1] == "init" && args[2] == "--copy-self":
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		data, err := os.ReadFile(exe)
		if err == nil {
			err = os.WriteFile(args[3], data, 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "copy-self:", err)
			return 1
		}
		fmt.Println("copied", exe, "to", args[3])
		return 0
	case args[0] == "version":
		exe, _ := os.Executable()
		fmt.Printf("hookrun stand-in args=%q exe=%s\n", args[1:], exe)
		return 0
	case len(args) == 4 && args[0] == "node-agent":
		cfg, err := clientcmd.BuildConfigFromFlags("", args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		a, err := node.New(node.Options{Config: cfg, NodeName: args[2], StateDir: args[3],
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := a.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "hookrun stand-in: unknown command %q\n", args)
	return 2
}
