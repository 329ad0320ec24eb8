package node_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/node"
	"github.com/hookrun/hookrun/node/kubeletpki"
)

// kubectl runs bin/kubectl against the test control plane.
type kubectl struct {
	bin, kubeconfig, ns string
}

func newKubectl(t *testing.T, ns string) kubectl {
	t.Helper()
	bin := filepath.Join(env.Root, "bin", "kubectl")
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "kubectl")); err == nil {
			bin = filepath.Join(dir, "kubectl")
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kubectl not built (make tools): %v", err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	return kubectl{bin: bin, kubeconfig: kc, ns: ns}
}

func (k kubectl) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig, "-n", k.ns}, args...)...)
}

// TestKubectlLogs reads a node agent's container logs with kubectl through the API server (pods/log is
// proxied to the agent's kubelet API): following a step that is still running, then the kubelet's options.
func TestKubectlLogs(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	k := newKubectl(t, ns)
	p := newPod(a, ns, "logs")
	p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
	data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
	p.Spec.InitContainers = []corev1.Container{sh("prepare", "echo init-line")}
	p.Spec.Containers = []corev1.Container{sh("step-main",
		"echo first; echo err-line >&2; while [ ! -f /data/go ]; do sleep 0.1; done; echo second", data)}
	create(t, p)
	waitFor(t, 30*time.Second, "step-main running", func() (bool, error) {
		var got corev1.Pod
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(p), &got); err != nil {
			return false, err
		}
		for _, s := range got.Status.ContainerStatuses {
			if s.Name == "step-main" && s.State.Running != nil {
				return true, nil
			}
		}
		return false, nil
	})

	// kubectl logs -f: lines arrive while the step runs, and the command ends when the step does.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	follow := k.cmd(ctx, "logs", "-f", p.Name, "-c", "step-main")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(want string) {
		t.Helper()
		select {
		case got, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl logs -f ended before %q; stderr: %s", want, stderr.String())
			}
			if got != want {
				t.Fatalf("kubectl logs -f: got line %q, want %q", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("kubectl logs -f: no line %q within 30s; stderr: %s", want, stderr.String())
		}
	}
	next("first")
	next("err-line")
	if s := containerStatus(t, getPod(t, ns, p.Name), "step-main"); s.State.Running == nil {
		t.Fatalf("step-main no longer running (%+v): the lines did not stream", s.State)
	}
	select {
	case l, ok := <-lines:
		t.Fatalf("kubectl logs -f printed %q (open %v) before the step wrote it", l, ok)
	case <-time.After(300 * time.Millisecond):
	}
	if err := os.WriteFile(filepath.Join(node.PodDir(a.state, ns, p.Name), "volumes", "data", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	next("second")
	if l, ok := <-lines; ok {
		t.Errorf("unexpected line %q after the last one", l)
	}
	if err := follow.Wait(); err != nil {
		t.Fatalf("kubectl logs -f: %v; stderr: %s", err, stderr.String())
	}
	waitPhase(t, ns, p.Name, 30*time.Second, corev1.PodSucceeded)

	timestamped := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z second\n$`)
	cases := []struct {
		name    string
		args    []string
		want    string         // exact output, or
		match   *regexp.Regexp // output pattern, or
		wantErr string         // part of the error kubectl prints
	}{
		{name: "whole log", args: []string{"-c", "step-main"}, want: "first\nerr-line\nsecond\n"},
		{name: "init container", args: []string{"-c", "prepare"}, want: "init-line\n"},
		{name: "tail", args: []string{"-c", "step-main", "--tail=1"}, want: "second\n"},
		{name: "since", args: []string{"-c", "step-main", "--since=1h"}, want: "first\nerr-line\nsecond\n"},
		{name: "limit bytes", args: []string{"-c", "step-main", "--limit-bytes=3"}, want: "fir"},
		{name: "timestamps", args: []string{"-c", "step-main", "--tail=1", "--timestamps"}, match: timestamped},
		{name: "follow an ended container", args: []string{"-c", "step-main", "-f", "--tail=2"}, want: "err-line\nsecond\n"},
		{name: "no previous instance", args: []string{"-c", "step-main", "--previous"}, wantErr: "previous terminated container"},
		{name: "unknown container", args: []string{"-c", "nope"}, wantErr: "nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut strings.Builder
			cmd := k.cmd(ctx, append([]string{"logs", p.Name}, tc.args...)...)
			cmd.Stdout, cmd.Stderr = &out, &errOut
			err := cmd.Run()
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(errOut.String(), tc.wantErr) {
					t.Errorf("err %v, stderr %q; want an error with %q", err, errOut.String(), tc.wantErr)
				}
			case err != nil:
				t.Errorf("kubectl logs %v: %v: %s", tc.args, err, errOut.String())
			case tc.match != nil && !tc.match.MatchString(out.String()):
				t.Errorf("got %q, want %s", out.String(), tc.match)
			case tc.match == nil && out.String() != tc.want:
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

// TestKubeletAPIRefusesOtherClients: the agent's kubelet API answers the API server's client certificate
// only; anyone else is refused during the TLS handshake.
func TestKubeletAPIRefusesOtherClients(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	p := newPod(a, ns, "private")
	p.Spec.Containers = []corev1.Container{sh("main", "echo private-output")}
	create(t, p)
	waitPhase(t, ns, p.Name, 30*time.Second, corev1.PodSucceeded)

	var n corev1.Node
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: a.name}, &n); err != nil {
		t.Fatal(err)
	}
	port := int(n.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 || port != a.KubeletPort() {
		t.Fatalf("Node publishes kubelet port %d, agent serves %d", port, a.KubeletPort())
	}
	if len(n.Status.Addresses) == 0 || n.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}) {
		t.Errorf("Node addresses %v, want InternalIP 127.0.0.1 first", n.Status.Addresses)
	}

	caPEM, err := os.ReadFile(env.Kubelet.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	other, err := kubeletpki.Generate(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	pair := func(cert, key string) []tls.Certificate {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/containerLogs/" + ns + "/" + p.Name + "/main"
	cases := []struct {
		name   string
		certs  []tls.Certificate
		refuse bool
	}{
		{"API server's kubelet client certificate", pair(env.Kubelet.ClientCert, env.Kubelet.ClientKey), false},
		{"no client certificate", nil, true},
		{"client certificate from another CA", pair(other.ClientCert, other.ClientKey), true},
		{"the node's own serving certificate (not for client auth)", pair(env.Kubelet.ServingCert, env.Kubelet.ServingKey), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: roots, Certificates: tc.certs, MinVersion: tls.VersionTLS12}}}
			resp, err := c.Get(url)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status + ": " + string(body))
				}
			}
			switch {
			case tc.refuse && err == nil:
				t.Errorf("answered %q", body)
			case tc.refuse:
				t.Logf("refused: %v", err)
			case err != nil:
				t.Errorf("refused: %v", err)
			case string(body) != "private-output\n":
				t.Errorf("body %q", body)
			}
		})
	}
}
