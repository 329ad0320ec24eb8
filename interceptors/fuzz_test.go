package interceptors

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// validHexSig reports whether sig is "<prefix><hex>" and the hex is the
// HMAC of body under secret.
func validHexSig(sig, prefix string, h func() hash.Hash, secret string, body []byte) bool {
	rest, found := strings.CutPrefix(sig, prefix)
	if !found {
		return false
	}
	got, err := hex.DecodeString(rest)
	if err != nil {
		return false
	}
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func FuzzGitHubSignature(f *testing.F) {
	const secret = ghDocSecret
	f.Add([]byte(ghDocBody), ghDocSig256, "", false)
	f.Add([]byte(ghDocBody), "", sha1Sig(secret, []byte(ghDocBody)), true)
	f.Add([]byte(ghDocBody), "", sha1Sig(secret, []byte(ghDocBody)), false)
	f.Add([]byte("{}"), "sha256=", "sha1=zz", true)
	f.Add([]byte(""), "sha512=00", "sha256", false)
	f.Add([]byte("x"), "=", "==", true)
	sg := newSecrets("ns/gh/token", secret)
	strict := mustBuild(f, "github", params(f, "secretRef", secretRefParam("gh", "token")), sg, Options{})
	lax := mustBuild(f, "github", params(f, "secretRef", secretRefParam("gh", "token"), "allowSHA1", true), sg, Options{})
	f.Fuzz(func(t *testing.T, body []byte, sig256, sig1 string, allowSHA1 bool) {
		ic := strict
		if allowSHA1 {
			ic = lax
		}
		h := http.Header{}
		if sig256 != "" {
			h.Set("X-Hub-Signature-256", sig256)
		}
		if sig1 != "" {
			h.Set("X-Hub-Signature", sig1)
		}
		got := ic.Process(context.Background(), &Request{Body: body, Header: h, Namespace: "ns"})
		if got.Code != OK && got.Code != Unauthenticated {
			t.Fatalf("unexpected code %v: %s", got.Code, got.Message)
		}
		if strings.Contains(got.Message, secret) {
			t.Fatalf("message leaks the secret: %s", got.Message)
		}
		if got.Code == OK {
			okSig := false
			if sig256 != "" {
				okSig = validHexSig(sig256, "sha256=", sha256.New, secret, body)
			} else {
				okSig = allowSHA1 && validHexSig(sig1, "sha1=", sha1.New, secret, body)
			}
			if !okSig {
				t.Fatalf("accepted an invalid signature: 256=%q 1=%q allowSHA1=%v", sig256, sig1, allowSHA1)
			}
		}
	})
}

func FuzzBitbucketSignature(f *testing.F) {
	const secret = "secret"
	body := []byte(`{"eventKey":"repo:refs_changed"}`)
	f.Add(body, sha256Sig(secret, body), false)
	f.Add(body, sha1Sig(secret, body), true)
	f.Add(body, sha1Sig(secret, body), false)
	f.Add(body, "sha512=00", true)
	f.Add([]byte{}, "sha256=", false)
	f.Add([]byte{0xff}, "md5=", true)
	sg := newSecrets("ns/bb/key", secret)
	strict := mustBuild(f, "bitbucket", params(f, "secretRef", secretRefParam("bb", "key")), sg, Options{})
	lax := mustBuild(f, "bitbucket", params(f, "secretRef", secretRefParam("bb", "key"), "allowSHA1", true), sg, Options{})
	f.Fuzz(func(t *testing.T, body []byte, sig string, allowSHA1 bool) {
		ic := strict
		if allowSHA1 {
			ic = lax
		}
		got := ic.Process(context.Background(), &Request{Body: body, Header: http.Header{"X-Hub-Signature": {sig}}, Namespace: "ns"})
		if got.Code != OK && got.Code != Unauthenticated {
			t.Fatalf("unexpected code %v: %s", got.Code, got.Message)
		}
		if got.Code == OK && !validHexSig(sig, "sha256=", sha256.New, secret, body) && !(allowSHA1 && validHexSig(sig, "sha1=", sha1.New, secret, body)) {
			t.Fatalf("accepted an invalid signature %q (allowSHA1 %v)", sig, allowSHA1)
		}
	})
}

func FuzzStandardWebhooks(f *testing.F) {
	now := time.Unix(1_750_000_000, 0)
	key := []byte("fuzz-signing-key-0123456789abcdef")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"object_kind":"push"}`)
	f.Add("msg_1", ts, swSign(key, "msg_1", ts, body), body)
	f.Add("msg_1", ts, "v1,"+strings.Repeat("A", 44)+" v1,Zm9v", body)
	f.Add("", "", "", []byte{})
	f.Add("id", "-9223372036854775808", "v1,", []byte("x"))
	f.Add("id", ts, "v1,"+strings.Repeat("=", 100), []byte("x"))
	ic := mustBuild(f, "gitlab", params(f, "secretRef", secretRefParam("gl", "key")), newSecrets("ns/gl/key", secret),
		Options{Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, id, timestamp, sig string, body []byte) {
		h := http.Header{}
		h.Set("Webhook-Id", id)
		h.Set("Webhook-Timestamp", timestamp)
		h.Set("Webhook-Signature", sig)
		got := ic.Process(context.Background(), &Request{Body: body, Header: h, Namespace: "ns"})
		if got.Code != OK && got.Code != Unauthenticated {
			t.Fatalf("unexpected code %v: %s", got.Code, got.Message)
		}
		if strings.Contains(got.Message, secret) {
			t.Fatalf("message leaks the secret: %s", got.Message)
		}
		if got.Code != OK {
			return
		}
		sec, err := strconv.ParseInt(timestamp, 10, 64)
		if err != nil || sec < now.Unix()-300 || sec > now.Unix()+300 {
			t.Fatalf("accepted timestamp %q", timestamp)
		}
		want := swSign(key, id, timestamp, body)
		if !strings.Contains(" "+sig+" ", " "+want+" ") && !containsEquivalentSig(sig, want) {
			t.Fatalf("accepted signature %q for id %q", sig, id)
		}
	})
}

// containsEquivalentSig reports whether a v1 entry of sigs decodes to the same bytes as want.
func containsEquivalentSig(sigs, want string) bool {
	w, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(want, "v1,"))
	for _, s := range strings.Fields(sigs) {
		if b64, found := strings.CutPrefix(s, "v1,"); found {
			if g, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(g, w) {
				return true
			}
		}
	}
	return false
}

func FuzzCELBuild(f *testing.F) {
	for _, s := range []string{
		"body.action == 'opened'",
		"header.match('X-GitHub-Event', 'push')",
		"header.canonical('X-Secret-Token').compareSecret('token', 'hook-secret')",
		"body.ref.split('/')[2].truncate(3) == 'fea'",
		"'{\"a\":1}'.parseJSON().a == 1.0 && 'a: b'.parseYAML().a == 'b'",
		"requestURL.parseURL().query['x'] == '1'",
		"[1,2,3].first() == 1 && last([1]) == 1 && body.marshalJSON() != ''",
		"'abc'.translate('[b]', 'x') == 'axc'",
		"lists.range(10).map(x, x * x).exists(y, y > 50)",
		"body.",
		"compareSecret(",
		"'\\xff'.parseJSON()",
		"{1: 2}.marshalJSON() == ''",
		"1 / 0 == 1",
	} {
		f.Add(s)
	}
	sg := newSecrets("team-a/hook-secret/token", "let-me-in")
	f.Fuzz(func(t *testing.T, filter string) {
		raw, _ := json.Marshal(filter)
		ic, err := Build("cel", map[string]json.RawMessage{"filter": raw}, sg, Options{CELCostLimit: 10_000})
		if err != nil {
			if ic != nil {
				t.Fatal("Build returned an interceptor and an error")
			}
			return
		}
		got := ic.Process(context.Background(), celRequest(t))
		switch got.Code {
		case OK, Skip, InvalidArgument:
		default:
			t.Fatalf("filter %q: unexpected code %v: %s", filter, got.Code, got.Message)
		}
		if got.Continue != (got.Code == OK) {
			t.Fatalf("inconsistent response %+v", got)
		}
		if strings.Contains(got.Message, "let-me-in") && !strings.Contains(filter, "let-me-in") {
			t.Fatalf("message leaks the secret: %s", got.Message)
		}
	})
}
