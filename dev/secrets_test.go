package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
)

func TestLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.2:8080", true},
		{"[::1]:8080", true},
		{"localhost:8080", true},
		{":8080", false},
		{"0.0.0.0:8080", false},
		{"[::]:8080", false},
		{"192.168.1.10:8080", false},
		{"example.com:8080", false},
		{"nonsense", false},
	} {
		if got := Loopback(tc.addr); got != tc.want {
			t.Errorf("Loopback(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if !Loopback(DefaultAddr) {
		t.Errorf("the default address %s is not loopback", DefaultAddr)
	}
}

// examples loads the repository's examples, as `hookrun dev` does.
func examples(t *testing.T) []load.Object {
	t.Helper()
	objs, err := loadConfigs([]string{"../examples/github-push", "../examples/gitlab-mr"})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func secretValues(t *testing.T, objs []load.Object) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range objs {
		if o.GVK.Kind != "Secret" {
			continue
		}
		var sec corev1.Secret
		if err := json.Unmarshal(o.JSON, &sec); err != nil {
			t.Fatal(err)
		}
		for k, v := range sec.StringData {
			out[sec.Name+"/"+k] = v
		}
	}
	return out
}

// TestGeneratedSecrets: the examples' placeholder Secrets get a random value per state directory, kept
// (0600) and reused on the next start; two state directories get different values; nothing applied
// still holds the placeholder.
func TestGeneratedSecrets(t *testing.T) {
	first := func(state string) (map[string]string, []Generated) {
		store, err := openSecrets(state)
		if err != nil {
			t.Fatal(err)
		}
		objs := examples(t)
		gen, err := fillSecrets(objs, "default", store)
		if err != nil {
			t.Fatal(err)
		}
		return secretValues(t, objs), gen
	}
	a, b := t.TempDir(), t.TempDir()
	va, gen := first(a)
	if len(gen) != 2 || len(va) != 2 {
		t.Fatalf("generated %+v, secrets %v: want the github and gitlab secrets", gen, va)
	}
	for k, v := range va {
		if v == validate.SecretPlaceholder || len(v) < 32 || v == "hookrun-dev-secret" || v == "hookrun-dev-token" {
			t.Errorf("%s = %q: not a generated secret", k, v)
		}
	}
	if va["github-secret/secretToken"] == va["gitlab-secret/token"] {
		t.Errorf("github and gitlab share one secret")
	}
	again, _ := first(a)
	if again["github-secret/secretToken"] != va["github-secret/secretToken"] || again["gitlab-secret/token"] != va["gitlab-secret/token"] {
		t.Errorf("restart on the same state changed the secrets: %v then %v", va, again)
	}
	vb, _ := first(b)
	for k := range va {
		if va[k] == vb[k] {
			t.Errorf("two state directories got the same %s", k)
		}
	}
	st, err := os.Stat(filepath.Join(a, secretsFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", secretsFile, st.Mode().Perm())
	}
}

// TestExposedAddressWarns: an address other machines reach is named as a risk before anything starts.
func TestExposedAddressWarns(t *testing.T) {
	for _, tc := range []struct {
		addr string
		warn bool
	}{{"0.0.0.0:0", true}, {":0", true}, {"127.0.0.1:0", false}} {
		var out bytes.Buffer
		err := Run(context.Background(), Options{StateDir: t.TempDir(), Addr: tc.addr, BinDir: t.TempDir(), Namespace: "default",
			Logger: slog.New(slog.DiscardHandler), Out: &out})
		if err == nil || !strings.Contains(err.Error(), "kube-apiserver not found") {
			t.Fatalf("%s: Run = %v, want the missing-binary error", tc.addr, err)
		}
		if got := strings.Contains(out.String(), "WARNING: --addr "+tc.addr+" accepts webhooks from other machines"); got != tc.warn {
			t.Errorf("%s: warned = %v, want %v; output:\n%s", tc.addr, got, tc.warn, out.String())
		}
	}
}

// TestStatePermissions: the state directory holds admin credentials and secrets: 0700 even when it
// existed before with wider rights; the log is 0600.
func TestStatePermissions(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	_ = Run(context.Background(), Options{StateDir: state, Addr: "127.0.0.1:0", BinDir: t.TempDir(),
		Logger: slog.New(slog.DiscardHandler), Out: &bytes.Buffer{}})
	st, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("state mode %v, want 0700", st.Mode().Perm())
	}
	f, err := OpenLog(state)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, _ := os.Stat(f.Name()); st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", st.Mode().Perm())
	}
}

// TestSendHints: the start-up text suggests one working command per example EventListener, with the
// generated secret and the event the interceptor accepts.
func TestSendHints(t *testing.T) {
	objs := examples(t)
	store, err := openSecrets(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gen, err := fillSecrets(objs, "default", store)
	if err != nil {
		t.Fatal(err)
	}
	hints := sendHints(objs, "default", "github-listener", gen, "state/push.json")
	vals := secretValues(t, objs)
	want := []string{
		"bin/hookrun send --provider github --event push --secret " + vals["github-secret/secretToken"] + " --url http://127.0.0.1:8080/hooks state/push.json",
		"bin/hookrun send --provider gitlab --event merge_request --secret " + vals["gitlab-secret/token"] + " --url http://127.0.0.1:8080/hooks/gitlab-listener PAYLOAD.json",
	}
	if len(hints) != len(want) {
		t.Fatalf("hints %+v", hints)
	}
	for i, h := range hints {
		got := h.command("127.0.0.1:8080")
		if i == 1 { // the payload path depends on the working directory
			got = got[:strings.LastIndex(got, " ")] + " PAYLOAD.json"
		}
		if got != want[i] {
			t.Errorf("hint %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}
