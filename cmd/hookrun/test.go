package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/hookrun/hookrun/api"
	"github.com/hookrun/hookrun/api/validate"
	"github.com/hookrun/hookrun/listener"
	"github.com/hookrun/hookrun/listener/offline"
)

// runTest is `hookrun test`: a webhook payload through the listener's own code path, against manifests
// on disk, with no cluster.
func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("test", "test -f DIR_OR_FILE... --provider github|gitlab|bitbucket --event EVENT --payload FILE [--header K=V]... [--secret NS/NAME/KEY=VALUE]... [--eventlistener NAME]", stderr)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprintln(stderr, `
Runs one delivery through the same code as the listener's POST /hooks — signature check, interceptors,
bindings, template — against the manifests given with -f, held in memory: nothing is sent anywhere and
nothing is created. The payload is signed with the Secret the EventListener's provider interceptor names
(from a Secret in the files, or --secret). Prints, per trigger, whether it fired or was skipped and why,
the params its bindings produced, and the resources it would create, as YAML.
Exit status: 0 when the delivery could be evaluated (whatever the triggers decided), 1 on a configuration
error (a manifest problem, a trigger that cannot be compiled, no such EventListener), 2 on bad usage.`)
	}
	var files, headers, secrets stringList
	fs.Var(&files, "f", "a manifest file or directory (repeatable)")
	provider := fs.String("provider", "github", "github, gitlab or bitbucket: the headers and signature of the delivery")
	event := fs.String("event", "push", "event type (github: push, pull_request…; gitlab: push, merge_request… or the header value; bitbucket: repo:push…)")
	payload := fs.String("payload", "", "the webhook body (a JSON file; - reads standard input)")
	fs.Var(&headers, "header", "an extra request header K=V (repeatable)")
	fs.Var(&secrets, "secret", "a Secret value NAMESPACE/NAME/KEY=VALUE the manifests refer to but do not hold (repeatable)")
	elName := fs.String("eventlistener", "", "the EventListener to deliver to (default: the only one in the files)")
	namespace := fs.String("namespace", "default", "namespace of objects that name none")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	files = append(files, fs.Args()...)
	if len(files) == 0 || *payload == "" {
		fmt.Fprintln(stderr, "hookrun test: give the manifests with -f and the body with --payload")
		fs.Usage()
		return errUsage
	}
	body, err := readPayload(*payload)
	if err != nil {
		return fmt.Errorf("--payload: %w", err)
	}
	objs, problems, _, err := validate.Files(files)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stdout, p.String())
		}
		fmt.Fprintf(stderr, "%d problem(s) in the manifests: fix them first (hookrun validate)\n", len(problems))
		return errFailed
	}
	extra, bad := parseHeaders(headers)
	if bad != "" {
		fmt.Fprintf(stderr, "hookrun test: --header %q: want K=V\n", bad)
		return errUsage
	}
	scheme, err := api.NewScheme()
	if err != nil {
		return err
	}
	res, err := offline.Run(ctx, scheme, offline.Input{
		Objects: objs, Namespace: *namespace, EventListener: *elName, Secrets: secrets,
		Delivery: listener.Outgoing{Provider: *provider, Event: *event, Body: body}, Header: extra,
	})
	if err != nil {
		return err
	}
	printOutcome(stdout, res)
	if res.ConfigError {
		return errFailed
	}
	return nil
}

func printOutcome(w io.Writer, res *offline.Result) {
	fmt.Fprintf(w, "EventListener %s/%s: %s", res.Namespace, res.EventListener, res.Signing)
	fmt.Fprintf(w, "\nanswer: %d %s", res.Code, http.StatusText(res.Code))
	if res.Response.Message != "" {
		fmt.Fprintf(w, " — %s", res.Response.Message)
	}
	fmt.Fprintln(w)
	traces := map[string]listener.Trace{}
	for _, t := range res.Traces {
		traces[t.Namespace+"/"+t.Trigger] = t
	}
	for _, t := range res.Response.Triggers {
		status := map[string]string{listener.StatusCreated: "fired", listener.StatusSkipped: "skipped", listener.StatusFailed: "failed"}[t.Status]
		fmt.Fprintf(w, "\ntrigger %s/%s: %s", t.Namespace, t.Name, status)
		if t.Reason != "" {
			fmt.Fprintf(w, " — %s", t.Reason)
		}
		fmt.Fprintln(w)
		tr, ok := traces[t.Namespace+"/"+t.Name]
		if !ok {
			continue
		}
		if tr.ServiceAccount != "" {
			fmt.Fprintf(w, "  created as ServiceAccount %s\n", tr.ServiceAccount)
		}
		if len(tr.Params) > 0 {
			fmt.Fprintln(w, "  params:")
			names := make([]string, 0, len(tr.Params))
			for k := range tr.Params {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				v, _ := json.Marshal(tr.Params[k])
				fmt.Fprintf(w, "    %s: %s\n", k, v)
			}
		}
		for _, obj := range tr.Resources {
			data, err := yaml.Marshal(obj.Object)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "  ---\n")
			for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
	}
}

// parseHeaders turns K=V flags into a header; bad is the first flag that is not K=V.
func parseHeaders(flags []string) (h http.Header, bad string) {
	h = http.Header{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, f
		}
		h.Add(k, v)
	}
	return h, ""
}
