package interceptors

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"mime"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// changedFilesKey is the extension key the github interceptor writes the
// changed files list to (same as Tekton).
const changedFilesKey = "changed_files"

// githubInterceptor validates and filters GitHub webhooks. With
// addChangedFiles enabled, push events get the "changed_files" extension
// computed from the payload's commits, and pull_request events the files the
// GitHub API lists for the pull request (with personalAccessToken when set),
// as Tekton does.
type githubInterceptor struct {
	secret       *secretRef
	secrets      SecretGetter
	events       eventFilter
	changedFiles bool
	token        *secretRef // addChangedFiles.personalAccessToken
	owners       *ownersCheck
	allowSHA1    bool
	opts         Options
}

// githubChangedFiles is the addChangedFiles param. personalAccessToken names
// the Secret key holding the token the GitHub API is called with for
// pull_request events (anonymous without it).
type githubChangedFiles struct {
	Enabled             bool       `json:"enabled"`
	PersonalAccessToken *secretRef `json:"personalAccessToken,omitempty"`
}

// githubOwners is Tekton's githubOwners param (see ownersCheck).
type githubOwners struct {
	Enabled             bool       `json:"enabled"`
	PersonalAccessToken *secretRef `json:"personalAccessToken,omitempty"`
	CheckType           string     `json:"checkType,omitempty"`
}

func newGitHub(params map[string]json.RawMessage, secrets SecretGetter, opts Options) (*githubInterceptor, error) {
	const iname = "github"
	if err := checkParamNames(iname, params, "secretRef", "eventTypes", "addChangedFiles", "allowSHA1", "githubOwners"); err != nil {
		return nil, err
	}
	g := &githubInterceptor{secrets: secrets, opts: opts}
	var err error
	if g.secret, err = parseSecretRef(iname, params, secrets); err != nil {
		return nil, err
	}
	if g.events, err = parseEventTypes(iname, params); err != nil {
		return nil, err
	}
	if raw, present := params["addChangedFiles"]; present && !isNull(raw) {
		var acf githubChangedFiles
		if err := decodeStrict(raw, &acf); err != nil {
			return nil, paramError(iname, "addChangedFiles", err)
		}
		g.changedFiles = acf.Enabled
		if t := acf.PersonalAccessToken; acf.Enabled && t != nil {
			if t.SecretName == "" || t.SecretKey == "" {
				return nil, paramError(iname, "addChangedFiles", errors.New("personalAccessToken needs secretName and secretKey"))
			}
			if secrets == nil {
				return nil, paramError(iname, "addChangedFiles", errors.New("no SecretGetter configured"))
			}
			g.token = t
		}
	}
	if raw, present := params["allowSHA1"]; present && !isNull(raw) {
		if err := json.Unmarshal(raw, &g.allowSHA1); err != nil {
			return nil, paramError(iname, "allowSHA1", errors.New("must be a boolean"))
		}
	}
	if raw, present := params["githubOwners"]; present && !isNull(raw) {
		var own githubOwners
		if err := decodeStrict(raw, &own); err != nil {
			return nil, paramError(iname, "githubOwners", err)
		}
		if own.Enabled {
			if g.owners, err = parseOwners(own, secrets); err != nil {
				return nil, paramError(iname, "githubOwners", err)
			}
		}
	}
	return g, nil
}

// Process implements Interceptor. Like Tekton it rejects form-encoded
// payloads, then checks the event type, then the signature.
func (g *githubInterceptor) Process(ctx context.Context, req *Request) Response {
	if r := g.Verify(ctx, req); !r.Continue {
		return r
	}
	return g.Finish(ctx, req)
}

// Authenticates implements Verifier.
func (g *githubInterceptor) Authenticates() bool { return g.secret != nil }

// Verify implements Verifier: content type, event type and signature, on the raw body.
func (g *githubInterceptor) Verify(ctx context.Context, req *Request) Response {
	if ct := req.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/x-www-form-urlencoded" {
			return fail(InvalidArgument, "form parameter encoding not supported, please change the hook to send JSON payloads")
		}
	}
	if r := g.events.check(gh.EventTypeHeader, req.Header.Get(gh.EventTypeHeader)); r != nil {
		return *r
	}
	if g.secret == nil {
		return proceed(nil)
	}
	if r := g.verify(ctx, req); r != nil {
		return *r
	}
	return Response{Continue: true, Code: OK, Proof: BodyProof}
}

// Finish implements Verifier: the githubOwners check of pull_request and issue_comment events, then the
// changed_files extension of push and pull_request events.
func (g *githubInterceptor) Finish(ctx context.Context, req *Request) Response {
	event := req.Header.Get(gh.EventTypeHeader)
	if g.owners != nil && (event == "pull_request" || event == "issue_comment") {
		if r := g.checkOwners(ctx, req, event); !r.Continue {
			return r
		}
	}
	if g.changedFiles && req.Header.Get(gh.EventTypeHeader) == "pull_request" {
		return g.pullRequestFiles(ctx, req)
	}
	if g.changedFiles && req.Header.Get(gh.EventTypeHeader) == "push" {
		body, err := decodedBody(req)
		if err != nil {
			return fail(InvalidArgument, "%v", err)
		}
		return proceed(map[string]any{changedFilesKey: pushChangedFiles(body)})
	}
	return proceed(nil)
}

// verify checks the HMAC signature of the body; it returns nil on success.
func (g *githubInterceptor) verify(ctx context.Context, req *Request) *Response {
	header, algo := gh.SHA256SignatureHeader, "sha256="
	sig := req.Header.Get(header)
	if sig == "" {
		sha1Sig := req.Header.Get(gh.SHA1SignatureHeader)
		if sha1Sig == "" || !g.allowSHA1 {
			r := fail(Unauthenticated, "%s header missing", gh.SHA256SignatureHeader)
			if sha1Sig != "" {
				r.Message += " (SHA-1 " + gh.SHA1SignatureHeader + " signatures are refused unless the github interceptor sets allowSHA1: true)"
			}
			return &r
		}
		header, algo, sig = gh.SHA1SignatureHeader, "sha1=", sha1Sig
	}
	if r := checkHexSignature(header, sig, algo); r != nil {
		return r
	}
	secret, r := readSecret(ctx, g.secrets, req.Namespace, g.secret)
	if r != nil {
		return r
	}
	if err := gh.ValidateSignature(sig, req.Body, secret); err != nil {
		r := fail(Unauthenticated, "%s does not match the payload", header)
		return &r
	}
	return nil
}

// checkHexSignature checks that sig is "<algo><hex>" with one of the given
// algo prefixes (e.g. "sha256="), so that ValidateSignature only ever sees a
// well-formed value of an accepted algorithm.
func checkHexSignature(header, sig string, algos ...string) *Response {
	for _, algo := range algos {
		rest, found := strings.CutPrefix(sig, algo)
		if !found {
			continue
		}
		if _, err := hex.DecodeString(rest); err != nil || rest == "" {
			r := fail(Unauthenticated, "%s is malformed: %s must be followed by a hex digest", header, algo)
			return &r
		}
		return nil
	}
	r := fail(Unauthenticated, "%s is malformed: want %s<hex digest>", header, strings.Join(algos, "<hex digest> or "))
	return &r
}

// pushChangedFiles returns the comma-separated union, in order of first
// appearance, of the added, modified and removed files of every commit of a
// push payload.
func pushChangedFiles(body any) string {
	root, _ := body.(map[string]any)
	commits, _ := root["commits"].([]any)
	seen := make(map[string]struct{})
	var sb strings.Builder
	for _, c := range commits {
		commit, _ := c.(map[string]any)
		for _, field := range [...]string{"added", "modified", "removed"} {
			files, _ := commit[field].([]any)
			for _, f := range files {
				name, isString := f.(string)
				if !isString {
					continue
				}
				if _, dup := seen[name]; dup {
					continue
				}
				seen[name] = struct{}{}
				if sb.Len() > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(name)
			}
		}
	}
	return sb.String()
}
