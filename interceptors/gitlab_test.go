package interceptors

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGitLabToken(t *testing.T) {
	const token = "gl-s3cr3t-token"
	sg := newSecrets("team/gitlab/token", token)
	ic := mustBuild(t, "gitlab", params(t, "secretRef", secretRefParam("gitlab", "token"), "eventTypes", []string{"Push Hook", "Merge Request Hook"}), sg, Options{})
	cases := []struct {
		name string
		h    []string
		code Code
		msg  string
	}{
		{"valid", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", token}, OK, ""},
		{"valid, other allowed event", []string{"X-Gitlab-Event", "Merge Request Hook", "X-Gitlab-Token", token}, OK, ""},
		{"wrong token", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "gl-s3cr3t-tokem"}, Unauthenticated, "X-Gitlab-Token does not match"},
		{"token prefix", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", token[:5]}, Unauthenticated, "does not match"},
		{"token with suffix", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", token + "x"}, Unauthenticated, "does not match"},
		{"missing token", []string{"X-Gitlab-Event", "Push Hook"}, Unauthenticated, "X-Gitlab-Token header missing"},
		{"event not allowed", []string{"X-Gitlab-Event", "Note Hook", "X-Gitlab-Token", token}, Skip, "Note Hook"},
		{"event missing", []string{"X-Gitlab-Token", token}, Skip, "not allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ic.Process(context.Background(), &Request{Body: []byte(`{}`), Header: header(tc.h...), Namespace: "team"})
			expect(t, got, tc.code, tc.msg, token)
		})
	}
}

// swSign computes a Standard Webhooks v1 signature.
func swSign(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestGitLabStandardWebhooks(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	body := []byte(`{"object_kind":"push","ref":"refs/heads/main"}`)
	rawKey := []byte("0123456789abcdef0123456789abcdef")
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(rawKey)
	const plain = "plain-signing-secret"
	ts := strconv.FormatInt(now.Unix(), 10)
	stale := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	future := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)
	nearly := strconv.FormatInt(now.Add(-4*time.Minute).Unix(), 10)
	good := swSign(rawKey, "msg_1", ts, body)

	cases := []struct {
		name   string
		secret string
		h      []string
		code   Code
		msg    string
	}{
		{"valid whsec", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", good}, OK, ""},
		{"valid plain secret", plain, []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", swSign([]byte(plain), "msg_1", ts, body)}, OK, ""},
		{"valid among several", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", "v1,Zm9v v2,abc " + good}, OK, ""},
		{"within tolerance", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", nearly, "webhook-signature", swSign(rawKey, "msg_1", nearly, body)}, OK, ""},
		{"wrong signature", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", swSign([]byte("other"), "msg_1", ts, body)}, Unauthenticated, "webhook-signature does not match"},
		{"whsec used as raw key", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", swSign([]byte(whsec), "msg_1", ts, body)}, Unauthenticated, "does not match"},
		{"signature for another id", whsec, []string{"webhook-id", "msg_2", "webhook-timestamp", ts, "webhook-signature", good}, Unauthenticated, "does not match"},
		{"stale timestamp", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", stale, "webhook-signature", swSign(rawKey, "msg_1", stale, body)}, Unauthenticated, "timestamp outside tolerance"},
		{"future timestamp", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", future, "webhook-signature", swSign(rawKey, "msg_1", future, body)}, Unauthenticated, "timestamp outside tolerance"},
		{"huge timestamp", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", "9223372036854775807", "webhook-signature", good}, Unauthenticated, "timestamp outside tolerance"},
		{"bad timestamp", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", "yesterday", "webhook-signature", good}, Unauthenticated, "webhook-timestamp"},
		{"missing id", whsec, []string{"webhook-timestamp", ts, "webhook-signature", good}, Unauthenticated, "webhook-id header missing"},
		{"missing timestamp", whsec, []string{"webhook-id", "msg_1", "webhook-signature", good}, Unauthenticated, "webhook-timestamp header missing"},
		{"v1 prefix missing", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", strings.TrimPrefix(good, "v1,")}, Unauthenticated, "does not match"},
		{"not base64", whsec, []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", "v1,!!!!"}, Unauthenticated, "does not match"},
		{"broken whsec secret", "whsec_***", []string{"webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", good}, Internal, "not valid base64"},
		{"token header also accepted", plain, []string{"X-Gitlab-Token", plain, "webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", good}, OK, ""},
		{"both wrong", whsec, []string{"X-Gitlab-Token", "nope", "webhook-id", "msg_1", "webhook-timestamp", stale, "webhook-signature", good}, Unauthenticated, "X-Gitlab-Token does not match the secret; webhook-timestamp outside tolerance"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sg := newSecrets("ns/gl/key", tc.secret)
			ic := mustBuild(t, "gitlab", params(t, "secretRef", secretRefParam("gl", "key")), sg, Options{Now: func() time.Time { return now }})
			got := ic.Process(context.Background(), &Request{Body: body, Header: header(tc.h...), Namespace: "ns"})
			expect(t, got, tc.code, tc.msg, tc.secret, base64.StdEncoding.EncodeToString(rawKey))
		})
	}
}

// readHeaderTable reads a corpus HEADERS.tsv: file name -> header.
func readHeaderTable(t *testing.T, path string, parse func(string) []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, path)))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "file\t") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) < 2 {
			t.Fatalf("bad line in %s: %q", path, line)
		}
		out[cols[0]] = parse(cols[1])
	}
	return out
}

func TestGitLabCorpus(t *testing.T) {
	dir := corpusDir(t, "gitlab")
	events := readHeaderTable(t, filepath.Join(dir, "HEADERS.tsv"), func(s string) []string { return []string{s} })
	if len(events) == 0 {
		t.Fatal("no entries in gitlab/HEADERS.tsv")
	}
	const token = "corpus-gitlab-token"
	sg := newSecrets("ci/gl/token", token)
	all := mustBuild(t, "gitlab", params(t, "secretRef", secretRefParam("gl", "token")), sg, Options{})
	pushOnly := mustBuild(t, "gitlab", params(t, "secretRef", secretRefParam("gl", "token"), "eventTypes", []string{"Push Hook"}), sg, Options{})
	for file, ev := range events {
		t.Run(file, func(t *testing.T) {
			body := readFile(t, filepath.Join(dir, file))
			h := header("X-Gitlab-Event", ev[0], "X-Gitlab-Token", token)
			expect(t, all.Process(context.Background(), &Request{Body: body, Header: h, Namespace: "ci"}), OK, "")
			got := pushOnly.Process(context.Background(), &Request{Body: body, Header: h, Namespace: "ci"})
			if ev[0] == "Push Hook" {
				expect(t, got, OK, "")
			} else {
				expect(t, got, Skip, ev[0])
			}
			h.Set("X-Gitlab-Token", "wrong")
			expect(t, all.Process(context.Background(), &Request{Body: body, Header: h, Namespace: "ci"}), Unauthenticated, "", token)
		})
	}
}
