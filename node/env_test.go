package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestContainerEnvHostLeaks: a container gets neither the agent's HOME (its credentials) nor the host's
// proxy variables; it gets a private HOME of its Pod unless its spec sets one, and what it sets itself.
func TestContainerEnvHostLeaks(t *testing.T) {
	t.Setenv("HOME", "/home/agent-user")
	t.Setenv("HTTPS_PROXY", "http://host-proxy:3128")
	t.Setenv("http_proxy", "http://host-proxy:3128")
	t.Setenv("NO_PROXY", "internal")
	t.Setenv("LANG", "C.UTF-8")
	dir := t.TempDir()
	r := &podRunner{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}, dir: dir}
	cases := []struct {
		name    string
		env     []corev1.EnvVar
		want    map[string]string // "" = must be absent
		ownHome bool              // HOME is the Pod's private directory
	}{
		{"nothing set", nil, map[string]string{"HTTPS_PROXY": "", "http_proxy": "", "NO_PROXY": "", "LANG": "C.UTF-8"}, true},
		{"the Pod sets HOME and a proxy", []corev1.EnvVar{{Name: "HOME", Value: "/tekton/home"}, {Name: "HTTPS_PROXY", Value: "http://pod-proxy:8080"}},
			map[string]string{"HOME": "/tekton/home", "HTTPS_PROXY": "http://pod-proxy:8080", "http_proxy": ""}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := r.containerEnv(context.Background(), &corev1.Container{Name: "c", Env: c.env})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range c.want {
				got, ok := e.get(k)
				if want == "" && ok {
					t.Errorf("%s=%q leaked from the host", k, got)
				}
				if want != "" && got != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			home, _ := e.get("HOME")
			if strings.HasPrefix(home, "/home/agent-user") {
				t.Errorf("HOME is the agent's: %s", home)
			}
			if c.ownHome {
				if want := filepath.Join(dir, "home"); home != want {
					t.Errorf("HOME=%s, want the Pod's %s", home, want)
				}
				if fi, err := os.Stat(home); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
					t.Errorf("Pod HOME %s: %v %v", home, fi, err)
				}
			}
		})
	}
}
