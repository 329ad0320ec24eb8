package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api"
	"github.com/hookrun/hookrun/runlogs"
)

const logsHelp = `
Prints the logs of a PipelineRun, a TaskRun or a Pod: every task and step in order, each line prefixed
with [task:step]. RUN is a name (a PipelineRun of that name is looked for first, then a TaskRun, then a
Pod) or KIND/NAME (pipelinerun/, pr/, taskrun/, tr/, pod/). With -f the logs follow the run live until it
ends, like tkn pr logs -f.

Logs are read through the Kubernetes API (pods/log), on a real cluster as under hookrun dev. The API
server is found with --kubeconfig, else $KUBECONFIG, else the kubeconfig of hookrun dev in .hookrun/ when
there is one, else in-cluster or ~/.kube/config. --state DIR (older releases: the node agent's state) finds
the kubeconfig of the hookrun dev whose state is DIR or DIR's parent.

A PipelineRun that retention deleted is read from the log archive (--log-archive DIR, by default the
archive/ directory beside hookrun dev's kubeconfig when there is one; or an S3-compatible bucket with the
executor's --log-archive-s3-… flags and credentials).
`

// devState is hookrun dev's default state directory; its kubeconfig is used when nothing else is named.
const devState = ".hookrun"

func runLogs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseLogsArgs(args, stderr)
	if err != nil {
		return err
	}
	r, namespace, err := a.reader()
	if err != nil {
		return err
	}
	err = r.Write(ctx, stdout, namespace, a.kind, a.name, runlogs.Options{Follow: a.follow})
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // interrupted while following
	}
	return err
}

// logsArgs is what `hookrun logs` was asked.
type logsArgs struct {
	namespace, kubeconfig, state string
	archive                      *archiveFlags
	follow                       bool
	kind                         runlogs.Kind
	name                         string
}

// parseLogsArgs reads the flags, before or after the run's name (hookrun logs RUN -f), as kubectl does.
func parseLogsArgs(args []string, stderr io.Writer) (*logsArgs, error) {
	fs := newFlags("logs", "logs [-n NAMESPACE] [--kubeconfig FILE] RUN [-f]", stderr)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(stderr, logsHelp)
	}
	a := &logsArgs{}
	fs.StringVar(&a.namespace, "n", "", "namespace (default: the kubeconfig context's, else default)")
	fs.StringVar(&a.namespace, "namespace", "", "same as -n")
	fs.StringVar(&a.kubeconfig, "kubeconfig", "", "kubeconfig file")
	fs.BoolVar(&a.follow, "f", false, "follow the logs until the run ends")
	fs.BoolVar(&a.follow, "follow", false, "same as -f")
	fs.StringVar(&a.state, "state", "", "hookrun dev state directory whose kubeconfig to use (not needed: see below)")
	a.archive = addArchiveFlags(fs, "directory of archived run logs (the executor's --log-archive)")
	var name string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		if name != "" {
			fmt.Fprintf(stderr, "hookrun logs: more than one RUN given (%q, %q)\n", name, fs.Arg(0))
			return nil, errUsage
		}
		name, rest = fs.Arg(0), fs.Args()[1:]
	}
	if name == "" {
		fmt.Fprintln(stderr, "hookrun logs: give the name of a PipelineRun, TaskRun or Pod")
		fs.Usage()
		return nil, errUsage
	}
	var err error
	if a.kind, a.name, err = runlogs.ParseName(name); err != nil {
		fmt.Fprintln(stderr, "hookrun logs:", err)
		return nil, errUsage
	}
	return a, nil
}

// reader finds the API server (and the log archive) and returns a Reader and the namespace to read in.
func (a *logsArgs) reader() (*runlogs.Reader, string, error) {
	kubeconfig, namespace := a.kubeconfig, a.namespace
	if a.state != "" {
		var err error
		if kubeconfig, err = stateKubeconfig(a.state); err != nil {
			return nil, "", err
		}
	}
	if kubeconfig == "" && os.Getenv("KUBECONFIG") == "" {
		if p := filepath.Join(devState, "kubeconfig"); fileExists(p) {
			kubeconfig = p
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("no Kubernetes API to talk to (give --kubeconfig, set KUBECONFIG, or start hookrun dev): %w", err)
	}
	if namespace == "" {
		if namespace, _, err = cc.Namespace(); err != nil {
			return nil, "", fmt.Errorf("namespace from kubeconfig: %w", err)
		}
	}
	scheme, err := api.NewScheme()
	if err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes client: %w", err)
	}
	r := &runlogs.Reader{Client: c, Kube: kube}
	archive, err := a.archive.archive()
	if err != nil {
		return nil, "", err
	}
	if archive == nil && kubeconfig != "" {
		if dir := filepath.Join(filepath.Dir(kubeconfig), "archive"); dirExists(dir) {
			archive = &runlogs.Archive{Dir: dir}
		}
	}
	r.Archive = archive
	return r, namespace, nil
}

// stateKubeconfig finds the kubeconfig of a hookrun dev state directory: DIR/kubeconfig, or, for the node
// agent's state directory that older releases took (.hookrun/node), DIR/../kubeconfig.
func stateKubeconfig(dir string) (string, error) {
	for _, p := range []string{filepath.Join(dir, "kubeconfig"), filepath.Join(filepath.Dir(filepath.Clean(dir)), "kubeconfig")} {
		if fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("--state %s: no hookrun dev kubeconfig in it or its parent (logs are read through the "+
		"Kubernetes API now: --state is not needed under hookrun dev; use --kubeconfig elsewhere)", dir)
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
