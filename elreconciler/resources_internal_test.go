package elreconciler

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// TestDerive: kubernetesResource and TLS settings that cannot be applied are errors (a Ready=False
// condition), and the arguments follow the EventListener's namespace selectors.
func TestDerive(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  string
		err   string   // substring; empty: no error
		args  []string // must be present
		watch int      // --watch-namespace arguments (no duplicates)
		url   string
	}{
		{name: "plain", spec: `{}`, args: []string{"--watch-namespace=ns", "--any-path"}, watch: 1, url: "http://el-x.ns.svc.cluster.local:8080"},
		{name: "namespaceSelector names", spec: `{namespaceSelector: {matchNames: [a, ns, a]}}`,
			args: []string{"--watch-namespace=ns", "--watch-namespace=a"}, watch: 2, url: "http://el-x.ns.svc.cluster.local:8080"},
		{name: "every namespace", spec: `{namespaceSelector: {matchNames: ["*"]}}`, watch: 0,
			url: "http://el-x.ns.svc.cluster.local:8080"},
		{name: "trigger group selector", spec: `{triggerGroups: [{name: g, triggerSelector: {namespaceSelector: {matchNames: [b]}}}]}`,
			args: []string{"--watch-namespace=ns", "--watch-namespace=b"}, watch: 2, url: "http://el-x.ns.svc.cluster.local:8080"},
		{name: "TLS with a chosen port", spec: `{resources: {kubernetesResource: {servicePort: 443, spec: {spec: {containers: [{env: [
  {name: TLS_CERT, valueFrom: {secretKeyRef: {name: s, key: c}}}, {name: TLS_KEY, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]}}}}}`,
			args: []string{"--tls-cert=/etc/triggers/tls/c", "--tls-key=/etc/triggers/tls/k"}, watch: 1, url: "https://el-x.ns.svc.cluster.local:443"},
		{name: "TLS cert alone", spec: `{resources: {kubernetesResource: {spec: {spec: {containers: [{env: [
  {name: TLS_CERT, valueFrom: {secretKeyRef: {name: s, key: c}}}]}]}}}}}`, err: "both TLS_CERT and TLS_KEY"},
		{name: "TLS from two Secrets", spec: `{resources: {kubernetesResource: {spec: {spec: {containers: [{env: [
  {name: TLS_CERT, valueFrom: {secretKeyRef: {name: s, key: c}}}, {name: TLS_KEY, valueFrom: {secretKeyRef: {name: t, key: k}}}]}]}}}}}`,
			err: "same Secret"},
		{name: "undecodable", spec: `{resources: {kubernetesResource: {replicas: lots}}}`, err: "kubernetesResource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var spec triggersv1beta1.EventListenerSpec
			j, err := yaml.YAMLToJSON([]byte(tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(j, &spec); err != nil {
				t.Fatal(err)
			}
			el := &triggersv1beta1.EventListener{Spec: spec}
			el.Name, el.Namespace = "x", "ns"
			s, err := derive(el)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			args := listenerArgs(el, s)
			for _, a := range tc.args {
				if !slices.Contains(args, a) {
					t.Errorf("args %q lack %q", args, a)
				}
			}
			if n := countPrefix(args, "--watch-namespace="); n != tc.watch {
				t.Errorf("args %q: %d --watch-namespace, want %d", args, n, tc.watch)
			}
			if got := s.address(el); got != tc.url {
				t.Errorf("address %s, want %s", got, tc.url)
			}
		})
	}
}

func countPrefix(list []string, p string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			n++
		}
	}
	return n
}
