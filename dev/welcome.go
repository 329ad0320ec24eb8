package dev

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookrun/hookrun/api/load"
	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/dashboard"
)

// DefaultAddr is where `hookrun dev` listens unless told otherwise: loopback only. The examples run code
// from the repository a push names, as the user who started hookrun dev.
const DefaultAddr = "127.0.0.1:8080"

// Loopback reports whether addr (host:port) only accepts connections from this machine.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnExposed tells the user what listening beyond loopback means.
func warnExposed(w io.Writer, addr string) {
	fmt.Fprintf(w, `WARNING: --addr %s accepts webhooks from other machines, not only this one.
  Under hookrun dev, steps run as local processes with your user's rights: anyone who can reach this
  address and holds a webhook secret below can make this machine clone and run code of their choosing.
  Keep the secrets to yourself, and use --addr 127.0.0.1:PORT unless a forge must reach you directly.
`, addr)
}

// sendHint is one `hookrun send` command the start-up text suggests.
type sendHint struct {
	path, provider, event, secret, payload string
}

// sendHints finds, for each EventListener being applied, the first trigger whose first interceptor is a
// provider check whose Secret hookrun dev generated, and builds the command that signs a test event for it.
func sendHints(objs []load.Object, ns, defaultEL string, gen []Generated, pushPayload string) []sendHint {
	secret := map[string]string{}
	for _, g := range gen {
		secret[g.Namespace+"/"+g.Secret+"/"+g.Key] = g.Value
	}
	var out []sendHint
	for i := range objs {
		el, ok := objs[i].Obj.(*triggersv1beta1.EventListener)
		if !ok {
			continue
		}
		elNS := el.Namespace
		if elNS == "" {
			elNS = ns
		}
		for _, t := range el.Spec.Triggers {
			if len(t.Interceptors) == 0 || t.Interceptors[0] == nil {
				continue
			}
			r, err := t.Interceptors[0].Resolve()
			if err != nil || !r.Builtin() {
				continue
			}
			var ref struct {
				SecretName string `json:"secretName"`
				SecretKey  string `json:"secretKey"`
			}
			var events []string
			_ = json.Unmarshal(r.Params["secretRef"], &ref)
			_ = json.Unmarshal(r.Params["eventTypes"], &events)
			value, ok := secret[elNS+"/"+ref.SecretName+"/"+ref.SecretKey]
			if !ok {
				continue
			}
			h := sendHint{path: "/hooks/" + el.Name, provider: r.Name, secret: value, payload: "PAYLOAD.json"}
			if el.Name == defaultEL && elNS == ns {
				h.path = "/hooks"
			}
			if len(events) > 0 {
				h.event = events[0]
			}
			switch r.Name {
			case "github":
				if h.event == "" {
					h.event = "push"
				}
				if h.event == "push" && pushPayload != "" {
					h.payload = pushPayload
				}
			case "gitlab":
				if h.event == "Merge Request Hook" || h.event == "" {
					h.event = "merge_request"
					if _, err := os.Stat(filepath.Join("examples", "payloads", "gitlab-merge-request.json")); err == nil {
						h.payload = filepath.Join("examples", "payloads", "gitlab-merge-request.json")
					}
				}
			case "bitbucket":
				if h.event == "" {
					h.event = "repo:push"
				}
			default:
				continue
			}
			out = append(out, h)
			break
		}
	}
	return out
}

func (h sendHint) command(host string) string {
	event := h.event
	if strings.ContainsAny(event, " '\"") {
		event = "'" + strings.ReplaceAll(event, "'", `'\''`) + "'"
	}
	return fmt.Sprintf("bin/hookrun send --provider %s --event %s --secret %s --url http://%s%s %s",
		h.provider, event, h.secret, host, h.path, h.payload)
}

func printWelcome(o Options, state, kubeconfig string, gen []Generated, hints []sendHint) {
	host := o.Addr
	if strings.HasPrefix(host, ":") {
		host = "localhost" + host
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
hookrun is running.
  webhooks:    POST http://%[1]s/hooks  (EventListener %[2]s)   or  POST http://%[1]s/hooks/NAME
               (every EventListener is served here, in-process: http://%[1]s/hooks/NAME stands for
               a cluster's Service el-NAME, http://el-NAME.NAMESPACE.svc.cluster.local:8080, any path)
  dashboard:   http://%[5]s/  (runs, task graphs, live step logs, deliveries)
  kubeconfig:  %[3]s
  logs:        %[4]s
`, host, o.EventListener, rel(kubeconfig), rel(filepath.Join(state, "hookrun.log")), o.dashboardAddr())
	if len(gen) > 0 {
		fmt.Fprintf(&b, "\nWebhook secrets generated for this state directory (kept in %s, 0600):\n", rel(filepath.Join(state, secretsFile)))
		for _, g := range gen {
			fmt.Fprintf(&b, "  Secret %s/%s %s: %s\n", g.Namespace, g.Secret, g.Key, g.Value)
		}
	}
	if len(hints) > 0 {
		b.WriteString("\nSend a test event from a second terminal:\n")
		for _, h := range hints {
			b.WriteString("  " + h.command(host) + "\n")
		}
	}
	// hookrun logs finds .hookrun/kubeconfig by itself; another --state needs the flag.
	logs := "bin/hookrun logs -f PIPELINERUN           (every task and step, live; the state's kubeconfig is found by itself)"
	if rel(kubeconfig) != filepath.Join(".hookrun", "kubeconfig") {
		logs = "bin/hookrun logs --kubeconfig " + rel(kubeconfig) + " -f PIPELINERUN   (every task and step, live)"
	}
	fmt.Fprintf(&b, `
Then watch it run:
  bin/kubectl --kubeconfig %[1]s get pipelineruns,taskruns,eventlisteners
  %[3]s
  bin/kubectl --kubeconfig %[1]s logs POD -c step-NAME [-f]

Ctrl-C stops everything; runs and logs are kept in %[2]s for next time.
`, rel(kubeconfig), rel(state), logs)
	_, _ = io.WriteString(o.Out, b.String())
}

// dashboardAddr is the dashboard's address: Options.DashboardAddr or dashboard.DefaultAddr.
func (o Options) dashboardAddr() string {
	if o.DashboardAddr != "" {
		return o.DashboardAddr
	}
	return dashboard.DefaultAddr
}

// rel shortens p to a path relative to the working directory when it is below it.
func rel(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
	}
	return p
}
