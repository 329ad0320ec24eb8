// Package resolve fetches the Tasks, Pipelines and StepActions that Tekton's remote resolution refers to
// (taskRef/pipelineRef/step ref with a resolver and params): the cluster, git, http, bundles and hub
// resolvers, with Tekton's param names and defaults. A Resolver returns the object's bytes (YAML or JSON, as
// the source holds them) and where they came from (Tekton's RefSource: uri, digest, entryPoint); decoding
// and validating the object is the caller's concern. Results are cached in memory by resolver, params and
// the source's digest or commit, so a second run of the same revision does not fetch it again.
//
// Errors are *Error values naming the resolver, the param and the cause; errors.Is(err, ErrPermanent)
// (bad params, not found, refused) or errors.Is(err, ErrTransient) (unreachable, timed out, server error)
// tells the caller whether retrying can help.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// Resolver names (the values of taskRef.resolver / pipelineRef.resolver).
const (
	Cluster = "cluster"
	Git     = "git"
	HTTP    = "http"
	Bundles = "bundles"
	Hub     = "hub"
)

// Kinds a reference may ask for (lower case, as resolver params spell them).
const (
	KindTask       = "task"
	KindPipeline   = "pipeline"
	KindStepAction = "stepaction"
)

// Default hub API locations (Tekton's).
const (
	DefaultTektonHubURL   = "https://api.hub.tekton.dev"
	DefaultArtifactHubURL = "https://artifacthub.io"
)

// Sentinels for errors.Is on an *Error.
var (
	// ErrPermanent: retrying cannot help (bad or missing params, not found, refused, unparseable).
	ErrPermanent = errors.New("permanent resolution failure")
	// ErrTransient: the source could not be reached or failed; a later attempt may succeed.
	ErrTransient = errors.New("transient resolution failure")
)

// Error is a resolution failure: which resolver, which param (when one is to blame) and why.
type Error struct {
	Resolver  string
	Param     string
	Err       error
	Transient bool
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resolver %s", e.Resolver)
	if e.Param != "" {
		fmt.Fprintf(&b, ", param %s", e.Param)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches ErrPermanent or ErrTransient according to the error's kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrTransient:
		return e.Transient
	case ErrPermanent:
		return !e.Transient
	}
	return false
}

func permanent(resolver, param string, format string, args ...any) *Error {
	return &Error{Resolver: resolver, Param: param, Err: fmt.Errorf(format, args...)}
}

func transient(resolver, param string, err error) *Error {
	return &Error{Resolver: resolver, Param: param, Err: err, Transient: true}
}

// Request is one reference to resolve.
type Request struct {
	// Resolver is the reference's resolver name (cluster, git, http, bundles, hub).
	Resolver string
	// Params are the reference's params (string values).
	Params map[string]string
	// Namespace is the run's namespace: the cluster resolver's default, where http and bundles Secrets live.
	Namespace string
	// Kind is what the reference must yield: KindTask, KindPipeline or KindStepAction (the default for
	// the kind params).
	Kind string
}

// Result is a resolved object.
type Result struct {
	// Data is the object as the source holds it (YAML or JSON).
	Data []byte
	// Source is where it came from (recorded in the run's status.provenance.refSource).
	Source pipelinev1.RefSource
}

// Options configure a Resolvers.
type Options struct {
	// Reader reads cluster objects (cluster resolver) and Secrets (http and bundles credentials).
	// Without it those fail with a clear error.
	Reader client.Reader
	// TektonHubURL and ArtifactHubURL are the hub APIs (defaults DefaultTektonHubURL, DefaultArtifactHubURL).
	TektonHubURL   string
	ArtifactHubURL string
	// HTTPClient is used by http, hub and bundles (default: a client with Timeout).
	HTTPClient *http.Client
	// Timeout bounds one resolution attempt (default 1 minute).
	Timeout time.Duration
	// MaxBytes bounds a resolved object (default 4 MiB).
	MaxBytes int64
	// CacheEntries and CacheBytes bound the in-memory cache (defaults 64 objects, 8 MiB).
	CacheEntries int
	CacheBytes   int
}

// Resolvers resolves references with every built-in resolver.
type Resolvers struct {
	opts  Options
	cache *lru
}

// New returns Resolvers configured by opts.
func New(opts Options) *Resolvers {
	if opts.TektonHubURL == "" {
		opts.TektonHubURL = DefaultTektonHubURL
	}
	if opts.ArtifactHubURL == "" {
		opts.ArtifactHubURL = DefaultArtifactHubURL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: opts.Timeout}
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 4 << 20
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 64
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 8 << 20
	}
	return &Resolvers{opts: opts, cache: newLRU(opts.CacheEntries, opts.CacheBytes)}
}

// Resolve fetches what req refers to. Errors are *Error.
func (r *Resolvers) Resolve(ctx context.Context, req Request) (Result, error) {
	if err := CheckParams(req.Resolver, req.Params); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	var res Result
	var err error
	switch req.Resolver {
	case Cluster:
		res, err = r.cluster(ctx, req)
	case Git:
		res, err = r.git(ctx, req)
	case HTTP:
		res, err = r.http(ctx, req)
	case Bundles:
		res, err = r.bundle(ctx, req)
	case Hub:
		res, err = r.hub(ctx, req)
	}
	if err != nil {
		var re *Error
		if !errors.As(err, &re) {
			err = transient(req.Resolver, "", err)
		}
		return Result{}, err
	}
	return res, nil
}

// paramSpec is one resolver's params: which are required, which are known.
type paramSpec struct {
	required []string
	optional []string
	// refused are Tekton params hookrun recognises and does not implement, with the reason.
	refused map[string]string
}

const (
	gitAPIMode = "the git resolver's API mode (serverURL, org, repo, token) is not supported by hookrun: give url for an anonymous clone"
	gitAuth    = "authenticated clones (gitToken, gitTokenKey) are not supported by hookrun: the git resolver clones anonymously"
)

var resolverParams = map[string]paramSpec{
	Cluster: {required: []string{"name"}, optional: []string{"kind", "namespace"}},
	Git: {required: []string{"url", "pathInRepo"}, optional: []string{"revision"},
		refused: map[string]string{"repo": gitAPIMode, "org": gitAPIMode, "serverURL": gitAPIMode, "token": gitAPIMode, "tokenKey": gitAPIMode, "scmType": gitAPIMode,
			"gitToken": gitAuth, "gitTokenKey": gitAuth}},
	HTTP:    {required: []string{"url"}, optional: []string{"http-username", "http-password-secret", "http-password-secret-key"}},
	Bundles: {required: []string{"bundle", "name"}, optional: []string{"kind", "secret", "serviceAccount", "cache"}},
	Hub:     {required: []string{"name", "version"}, optional: []string{"catalog", "type", "kind", "url"}},
}

// Names lists the built-in resolvers.
func Names() []string {
	out := make([]string, 0, len(resolverParams))
	for n := range resolverParams {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckParams checks a reference's resolver name and params without fetching anything: the resolver is
// known, required params are present and non-empty, enumerated params have a valid value. The error is an
// *Error (permanent) naming the param.
func CheckParams(resolver string, params map[string]string) error {
	spec, ok := resolverParams[resolver]
	if !ok {
		return permanent(resolver, "", "unknown resolver %q (hookrun knows %s)", resolver, strings.Join(Names(), ", "))
	}
	for _, p := range sortedKeys(params) {
		if why, refused := spec.refused[p]; refused {
			return permanent(resolver, p, "%s", why)
		}
	}
	for _, p := range spec.required {
		if strings.TrimSpace(params[p]) == "" {
			return permanent(resolver, p, "required param %q is missing", p)
		}
	}
	enums := map[string][]string{"kind": {KindTask, KindPipeline, KindStepAction}}
	if resolver == Hub {
		enums = map[string][]string{"kind": {KindTask, KindPipeline}, "type": {"artifact", "tekton"}}
	}
	for p, allowed := range enums {
		v, ok := params[p]
		if !ok {
			continue
		}
		if !contains(allowed, strings.ToLower(v)) {
			return permanent(resolver, p, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	if resolver == HTTP {
		if params["http-password-secret"] != "" && params["http-username"] == "" {
			return permanent(resolver, "http-username", "required when http-password-secret is given")
		}
		if params["http-password-secret"] != "" && params["http-password-secret-key"] == "" {
			return permanent(resolver, "http-password-secret-key", "required when http-password-secret is given")
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// cacheKey is resolver + params (sorted) + the version the source reported.
func cacheKey(resolver string, params map[string]string, version string) string {
	var b strings.Builder
	b.WriteString(resolver)
	for _, k := range sortedKeys(params) {
		fmt.Fprintf(&b, "\x00%s=%s", k, params[k])
	}
	b.WriteString("\x00@" + version)
	return b.String()
}

// kindParam is the kind the request asks for: the kind param (lower-cased) or the reference's own.
func kindParam(req Request) string {
	if k := strings.ToLower(req.Params["kind"]); k != "" {
		return k
	}
	if req.Kind != "" {
		return req.Kind
	}
	return KindTask
}
