package interceptors

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// corpusRel is where the shared payload corpus sits relative to this package.
const corpusRel = "../../shared/corpus"

// corpusDir returns the corpus directory for provider, or skips the test.
func corpusDir(t testing.TB, provider string) string {
	t.Helper()
	dir := filepath.Join(corpusRel, provider)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("payload corpus not found at %s (relative to the interceptors package): %v", dir, err)
	}
	return dir
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeSecrets is a SecretGetter over a map keyed "namespace/name/key".
type fakeSecrets struct {
	mu    sync.Mutex
	data  map[string][]byte
	err   error
	calls []string
}

func newSecrets(kv ...string) *fakeSecrets {
	s := &fakeSecrets{data: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.data[kv[i]] = []byte(kv[i+1])
	}
	return s
}

func (s *fakeSecrets) GetSecretKey(_ context.Context, ns, name, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := ns + "/" + name + "/" + key
	s.calls = append(s.calls, id)
	if s.err != nil {
		return nil, s.err
	}
	v, found := s.data[id]
	if !found {
		return nil, fmt.Errorf("secret %s/%s not found", ns, name)
	}
	return v, nil
}

// params builds interceptor params from name/value pairs, JSON-encoding each value
// (a json.RawMessage or a string starting with "raw:" is used verbatim).
func params(t testing.TB, kv ...any) map[string]json.RawMessage {
	t.Helper()
	p := map[string]json.RawMessage{}
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		switch v := kv[i+1].(type) {
		case json.RawMessage:
			p[name] = v
		case string:
			if raw, found := strings.CutPrefix(v, "raw:"); found {
				p[name] = json.RawMessage(raw)
				continue
			}
			b, _ := json.Marshal(v)
			p[name] = b
		default:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			p[name] = b
		}
	}
	return p
}

func secretRefParam(name, key string) map[string]string {
	return map[string]string{"secretName": name, "secretKey": key}
}

func mac(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func sha256Sig(secret string, body []byte) string { return "sha256=" + mac(sha256.New, secret, body) }
func sha1Sig(secret string, body []byte) string   { return "sha1=" + mac(sha1.New, secret, body) }

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func mustBuild(t testing.TB, name string, p map[string]json.RawMessage, sg SecretGetter, opts Options) Interceptor {
	t.Helper()
	ic, err := Build(name, p, sg, opts)
	if err != nil {
		t.Fatalf("Build(%s): %v", name, err)
	}
	return ic
}

// expect checks a response's code and continue flag, and that the message
// contains want (when non-empty) and none of the forbidden strings.
func expect(t testing.TB, got Response, code Code, want string, forbidden ...string) {
	t.Helper()
	if got.Code != code || got.Continue != (code == OK) {
		t.Fatalf("got code %v continue %v (%q), want %v", got.Code, got.Continue, got.Message, code)
	}
	if want != "" && !strings.Contains(got.Message, want) {
		t.Fatalf("message %q does not contain %q", got.Message, want)
	}
	for _, f := range forbidden {
		if f != "" && strings.Contains(got.Message, f) {
			t.Fatalf("message %q leaks %q", got.Message, f)
		}
	}
}

func TestCodeString(t *testing.T) {
	for c, want := range map[Code]string{OK: "OK", Skip: "Skip", Unauthenticated: "Unauthenticated",
		InvalidArgument: "InvalidArgument", Internal: "Internal", Code(42): "Code(42)"} {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(c), got, want)
		}
	}
}

func TestBuildUnknown(t *testing.T) {
	_, err := Build("slack", nil, nil, Options{})
	if !errors.Is(err, ErrUnknownInterceptor) {
		t.Fatalf("Build(slack) error = %v, want ErrUnknownInterceptor", err)
	}
	if !strings.Contains(err.Error(), "slack") {
		t.Fatalf("error %q does not name the interceptor", err)
	}
}

func TestBuildParamErrors(t *testing.T) {
	sg := newSecrets()
	cases := []struct {
		name, iname string
		params      map[string]json.RawMessage
		sg          SecretGetter
		want        string
	}{
		{"unknown param", "github", params(t, "secretref", secretRefParam("a", "b")), sg, `unknown param "secretref"`},
		{"eventTypes string", "github", params(t, "eventTypes", "push"), sg, `"eventTypes": must be a list of strings`},
		{"eventTypes numbers", "gitlab", params(t, "eventTypes", []int{1}), sg, `"eventTypes"`},
		{"secretRef no key", "bitbucket", params(t, "secretRef", map[string]string{"secretName": "a"}), sg, "secretKey is empty"},
		{"secretRef no name", "github", params(t, "secretRef", map[string]string{"secretKey": "a"}), sg, "secretName is empty"},
		{"secretRef extra field", "github", params(t, "secretRef", map[string]string{"secretName": "a", "secretKey": "b", "sekret": "c"}), sg, `"secretRef"`},
		{"secretRef not object", "gitlab", params(t, "secretRef", "raw:[1]"), sg, `"secretRef"`},
		{"secretRef without getter", "github", params(t, "secretRef", secretRefParam("a", "b")), nil, "no SecretGetter"},
		{"allowSHA1 string", "github", params(t, "allowSHA1", "yes"), sg, `"allowSHA1": must be a boolean`},
		{"addChangedFiles unknown field", "github", params(t, "addChangedFiles", map[string]any{"enable": true}), sg, `"addChangedFiles"`},
		{"githubOwners checkType", "github", params(t, "githubOwners", map[string]any{"enabled": true, "checkType": "everyone"}), sg, `checkType "everyone"`},
		{"githubOwners token without key", "github", params(t, "githubOwners", map[string]any{"enabled": true, "personalAccessToken": map[string]string{"secretName": "a"}}), sg, "personalAccessToken needs"},
		{"gitlab allowSHA1", "gitlab", params(t, "allowSHA1", true), sg, `unknown param "allowSHA1"`},
		{"cel unknown", "cel", params(t, "filters", "true"), sg, `unknown param "filters"`},
		{"cel filter not string", "cel", params(t, "filter", true), sg, `"filter": must be a string`},
		{"cel overlays not list", "cel", params(t, "overlays", map[string]string{"key": "a"}), sg, `"overlays"`},
		{"cel overlay unknown field", "cel", params(t, "overlays", []map[string]string{{"key": "a", "expr": "1"}}), sg, `"overlays"`},
		{"cel overlay empty key", "cel", params(t, "overlays", []map[string]string{{"expression": "1"}}), sg, "key is empty"},
		{"cel overlay bad key", "cel", params(t, "overlays", []map[string]string{{"key": "a..b", "expression": "1"}}), sg, "empty path segment"},
		{"cel overlay empty expression", "cel", params(t, "overlays", []map[string]string{{"key": "a"}}), sg, `"a": expression is empty`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ic, err := Build(tc.iname, tc.params, tc.sg, Options{})
			if ic != nil {
				t.Fatalf("Build returned a non-nil Interceptor (%T) with error %v", ic, err)
			}
			if err == nil {
				t.Fatalf("Build succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestBuildAcceptsTektonShapes(t *testing.T) {
	sg := newSecrets()
	cases := []struct {
		iname  string
		params map[string]json.RawMessage
	}{
		{"github", nil},
		{"github", params(t, "secretRef", map[string]string{"secretName": "a", "secretKey": "b", "namespace": "x"},
			"eventTypes", []string{"push"}, "addChangedFiles", map[string]any{"enabled": true, "personalAccessToken": secretRefParam("p", "t")},
			"githubOwners", map[string]any{"enabled": false, "checkType": "none"}, "allowSHA1", false)},
		{"github", params(t, "eventTypes", "raw:null", "secretRef", "raw:null")},
		{"gitlab", params(t, "secretRef", secretRefParam("a", "b"), "eventTypes", []string{"Push Hook"})},
		{"bitbucket", params(t, "secretRef", secretRefParam("a", "b"), "eventTypes", []string{"repo:refs_changed"})},
		{"cel", params(t, "filter", "body.action in ['opened', 'reopened']")},
		{"cel", params(t, "overlays", []map[string]string{{"key": "truncated_sha", "expression": "body.pull_request.head.sha.truncate(7)"}})},
		{"cel", nil},
	}
	for _, tc := range cases {
		if _, err := Build(tc.iname, tc.params, sg, Options{}); err != nil {
			t.Errorf("Build(%s, %s): %v", tc.iname, tc.params, err)
		}
	}
}

// TestMessagesNeverContainSecrets sends wrong credentials to every
// interceptor that reads a secret and checks no message quotes the secret.
func TestMessagesNeverContainSecrets(t *testing.T) {
	const secret = "Sup3r-S3cret-Value"
	body := []byte(`{"action":"opened"}`)
	sg := newSecrets("ns/s/k", secret)
	ref := params(t, "secretRef", secretRefParam("s", "k"))
	cases := []struct {
		iname string
		p     map[string]json.RawMessage
		h     http.Header
	}{
		{"github", ref, header("X-Hub-Signature-256", sha256Sig(secret+"x", body))},
		{"github", ref, header("X-Hub-Signature-256", "sha256="+secret)},
		{"github", ref, header("X-Hub-Signature", sha1Sig(secret, body))},
		{"gitlab", ref, header("X-Gitlab-Token", secret[:len(secret)-1])},
		{"gitlab", ref, header("X-Gitlab-Token", secret+secret)},
		{"gitlab", ref, header("Webhook-Id", "1", "Webhook-Timestamp", "0", "Webhook-Signature", "v1,"+secret)},
		{"bitbucket", ref, header("X-Hub-Signature", "sha256="+secret)},
		{"bitbucket", ref, header("X-Hub-Signature", sha1Sig("nope", body))},
		{"cel", params(t, "filter", "header.canonical('X-Token').compareSecret('k', 's')"), header("X-Token", "wrong")},
		{"cel", params(t, "filter", "header.canonical('X-Token').compareSecret('k', 'missing')"), header("X-Token", secret)},
	}
	for i, tc := range cases {
		got := mustBuild(t, tc.iname, tc.p, sg, Options{}).Process(context.Background(), &Request{Body: body, Header: tc.h, Namespace: "ns"})
		if got.Continue || got.Code == OK {
			t.Errorf("case %d (%s): wrong credentials accepted", i, tc.iname)
		}
		if strings.Contains(got.Message, secret) || strings.Contains(got.Message, secret[:8]) {
			t.Errorf("case %d (%s): message leaks the secret: %q", i, tc.iname, got.Message)
		}
	}
}
