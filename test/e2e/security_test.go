package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookrun/hookrun/listener"
)

// devSecrets reads the webhook secrets hookrun dev generated for its state directory.
func devSecrets(t *testing.T, state string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// checkDevSecurity: what hookrun dev exposes is limited to this machine, its secrets are its own and
// private, and the commands it prints work as printed.
func checkDevSecurity(t *testing.T, d *devProc, root, bin string) {
	t.Helper()
	secrets := devSecrets(t, d.state)
	for _, k := range []string{"default/github-secret/secretToken", "default/gitlab-secret/token"} {
		if v := secrets[k]; len(v) < 32 {
			t.Errorf("generated secret %s = %q", k, v)
		}
	}
	// File modes: admin kubeconfig, secrets, node agent state.
	for path, want := range map[string]os.FileMode{
		d.state: 0o700, filepath.Join(d.state, "node"): 0o700, filepath.Join(d.state, "kubeconfig"): 0o600,
		filepath.Join(d.state, "secrets.json"): 0o600, filepath.Join(d.state, "hookrun.log"): 0o600,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			continue
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}

	// The constant secret the examples used to publish is refused.
	body, err := os.ReadFile(filepath.Join(d.state, "push.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := listener.Outgoing{Provider: "github", Event: "push", Secret: "hookrun-dev-secret", Body: body}.Request(context.Background(), d.url+"/hooks")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("push signed with the old published secret: %d, want 401", resp.StatusCode)
	}

	// Every `hookrun send` command printed at start-up works as printed (the binary under test in place
	// of bin/hookrun), run from the directory `make run` runs in.
	var sends []string
	for _, l := range strings.Split(d.out.String(), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "bin/hookrun send ") {
			sends = append(sends, l)
		}
	}
	if len(sends) != 2 {
		t.Fatalf("start-up text suggests %d send commands, want 2 (github, gitlab):\n%s", len(sends), d.out)
	}
	for _, l := range sends {
		if !strings.Contains(l, secrets["default/github-secret/secretToken"]) && !strings.Contains(l, secrets["default/gitlab-secret/token"]) {
			t.Errorf("suggested command does not carry a generated secret: %s", l)
		}
		cmd := exec.Command("sh", "-c", bin+" "+strings.TrimPrefix(l, "bin/hookrun "))
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"status": "created"`) && !strings.Contains(string(out), `"status":"created"`) {
			t.Errorf("suggested command failed: %s\n%v\n%s", l, err, out)
		}
	}

	// The listener is not reachable on the machine's other addresses.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(d.url, "http://"))
	addrs, _ := net.InterfaceAddrs()
	dialed := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		dialed++
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), port), 2*time.Second)
		if err == nil {
			c.Close()
			t.Errorf("listener reachable on %s:%s", ipn.IP, port)
		}
	}
	if dialed == 0 {
		t.Logf("this machine has no non-loopback address: reachability from other addresses not checked")
	}
}
