package interceptors

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestBitbucketSignature(t *testing.T) {
	const secret = "bb-secret"
	body := []byte(`{"eventKey":"repo:refs_changed"}`)
	sg := newSecrets("ns/bb/key", secret)
	ic := mustBuild(t, "bitbucket", params(t, "secretRef", secretRefParam("bb", "key"), "eventTypes", []string{"repo:refs_changed", "pr:opened"}), sg, Options{})
	cases := []struct {
		name string
		h    []string
		code Code
		msg  string
	}{
		{"sha256", []string{"X-Event-Key", "repo:refs_changed", "X-Hub-Signature", sha256Sig(secret, body)}, OK, ""},
		{"sha1 without allowSHA1", []string{"X-Event-Key", "pr:opened", "X-Hub-Signature", sha1Sig(secret, body)}, Unauthenticated, "allowSHA1"},
		{"forged", []string{"X-Event-Key", "pr:opened", "X-Hub-Signature", sha256Sig("x", body)}, Unauthenticated, "X-Hub-Signature does not match"},
		{"missing", []string{"X-Event-Key", "pr:opened"}, Unauthenticated, "X-Hub-Signature header missing"},
		{"unknown algorithm", []string{"X-Event-Key", "pr:opened", "X-Hub-Signature", "md5=00"}, Unauthenticated, "malformed"},
		{"no algorithm", []string{"X-Event-Key", "pr:opened", "X-Hub-Signature", strings.TrimPrefix(sha256Sig(secret, body), "sha256=")}, Unauthenticated, "malformed"},
		{"event not allowed", []string{"X-Event-Key", "repo:push", "X-Hub-Signature", sha256Sig(secret, body)}, Skip, "repo:push"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ic.Process(context.Background(), &Request{Body: body, Header: header(tc.h...), Namespace: "ns"})
			expect(t, got, tc.code, tc.msg, secret)
		})
	}
}

// TestBitbucketSHA1OptIn: SHA-1 signatures pass only with allowSHA1: true, like the github interceptor.
func TestBitbucketSHA1OptIn(t *testing.T) {
	const secret = "bb-secret"
	body := []byte(`{"eventKey":"pr:opened"}`)
	sg := newSecrets("ns/bb/key", secret)
	cases := []struct {
		name  string
		allow any // nil: param absent
		sig   string
		code  Code
		msg   string
	}{
		{"sha1, param absent", nil, sha1Sig(secret, body), Unauthenticated, "allowSHA1"},
		{"sha1, allowSHA1 false", false, sha1Sig(secret, body), Unauthenticated, "allowSHA1"},
		{"sha1, allowSHA1 true", true, sha1Sig(secret, body), OK, ""},
		{"forged sha1, allowSHA1 true", true, sha1Sig("x", body), Unauthenticated, "does not match"},
		{"sha256, allowSHA1 true", true, sha256Sig(secret, body), OK, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kv := []any{"secretRef", secretRefParam("bb", "key")}
			if tc.allow != nil {
				kv = append(kv, "allowSHA1", tc.allow)
			}
			ic := mustBuild(t, "bitbucket", params(t, kv...), sg, Options{})
			got := ic.Process(context.Background(), &Request{Body: body, Header: header("X-Event-Key", "pr:opened", "X-Hub-Signature", tc.sig), Namespace: "ns"})
			expect(t, got, tc.code, tc.msg, secret)
		})
	}
	if _, err := Build("bitbucket", params(t, "allowSHA1", "yes"), nil, Options{}); err == nil || !strings.Contains(err.Error(), "allowSHA1") {
		t.Errorf("allowSHA1: \"yes\" accepted: %v", err)
	}
}

func TestBitbucketCorpus(t *testing.T) {
	dir := corpusDir(t, "bitbucket")
	// HEADERS.tsv column 2: "Name: value; Name: value".
	table := readHeaderTable(t, filepath.Join(dir, "HEADERS.tsv"), func(s string) []string {
		var kv []string
		for _, part := range strings.Split(s, ";") {
			name, value, found := strings.Cut(strings.TrimSpace(part), ":")
			if found {
				kv = append(kv, strings.TrimSpace(name), strings.TrimSpace(value))
			}
		}
		return kv
	})
	sg := newSecrets("ci/bb/secret", "secret")
	server := mustBuild(t, "bitbucket", params(t, "secretRef", secretRefParam("bb", "secret")), sg, Options{})
	refsOnly := mustBuild(t, "bitbucket", params(t, "eventTypes", []string{"repo:refs_changed", "repo:push"}), nil, Options{})
	signed := 0
	for file, kv := range table {
		t.Run(file, func(t *testing.T) {
			body := readFile(t, filepath.Join(dir, file))
			h := header(kv...)
			req := &Request{Body: body, Header: h, Namespace: "ci"}
			event := h.Get("X-Event-Key")
			if event == "repo:refs_changed" || event == "repo:push" {
				expect(t, refsOnly.Process(context.Background(), req), OK, "")
			} else {
				expect(t, refsOnly.Process(context.Background(), req), Skip, event)
			}
			if h.Get("X-Hub-Signature") == "" {
				// Bitbucket Cloud: unsigned, so a secret makes it fail.
				expect(t, server.Process(context.Background(), req), Unauthenticated, "X-Hub-Signature header missing")
				return
			}
			signed++
			expect(t, server.Process(context.Background(), req), OK, "")
			tampered := &Request{Body: append([]byte(" "), body...), Header: h, Namespace: "ci"}
			expect(t, server.Process(context.Background(), tampered), Unauthenticated, "does not match")
		})
	}
	if signed == 0 {
		t.Fatal("no signed Bitbucket Server payloads in HEADERS.tsv")
	}
}
