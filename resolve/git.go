package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
)

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// git reads pathInRepo at revision (branch, tag, full commit SHA or ref; default the remote's default
// branch) of the repository at url, cloned anonymously and in memory (go-git: the executor image has no
// git binary). file:// URLs are opened in place.
func (r *Resolvers) git(ctx context.Context, req Request) (Result, error) {
	rawURL, rev, path := req.Params["url"], req.Params["revision"], strings.TrimPrefix(req.Params["pathInRepo"], "/")
	u, err := url.Parse(rawURL)
	if err != nil {
		return Result{}, permanent(Git, "url", "not a URL: %w", err)
	}
	var repo *git.Repository
	var hash plumbing.Hash
	switch u.Scheme {
	case "file":
		repo, hash, err = openLocal(u.Path, rev)
	case "http", "https", "git":
		repo, hash, err = r.cloneAt(ctx, req, rawURL, rev)
	default:
		return Result{}, permanent(Git, "url", "scheme %q is not supported: hookrun clones anonymously over http, https or git (or reads file://)", u.Scheme)
	}
	if err != nil {
		return Result{}, err
	}
	key := cacheKey(Git, req.Params, hash.String())
	if repo == nil {
		if res, ok := r.cache.get(key); ok {
			return res, nil
		}
		repo, err = r.cloneRef(ctx, rawURL, rev, hash)
		if err != nil {
			return Result{}, err
		}
	}
	commit, err := commitOf(repo, hash)
	if err != nil {
		return Result{}, permanent(Git, "revision", "%q does not name a commit: %w", rev, err)
	}
	f, err := commit.File(path)
	if err != nil {
		return Result{}, permanent(Git, "pathInRepo", "%q not found at commit %s: %w", path, commit.Hash, err)
	}
	if f.Size > r.opts.MaxBytes {
		return Result{}, permanent(Git, "pathInRepo", "%q is %d bytes, more than the %d allowed", path, f.Size, r.opts.MaxBytes)
	}
	data, err := f.Contents()
	if err != nil {
		return Result{}, transient(Git, "pathInRepo", fmt.Errorf("read %q: %w", path, err))
	}
	res := Result{Data: []byte(data)}
	res.Source.URI = "git+" + rawURL
	res.Source.Digest = map[string]string{"sha1": commit.Hash.String()}
	res.Source.EntryPoint = path
	r.cache.put(cacheKey(Git, req.Params, commit.Hash.String()), res)
	r.cache.put(key, res)
	return res, nil
}

// cloneAt asks the remote (ls-remote) which object revision names. A full commit SHA is returned as is
// (and nothing is listed). The repository is nil: the caller consults the cache before cloning.
func (r *Resolvers) cloneAt(ctx context.Context, req Request, rawURL, rev string) (*git.Repository, plumbing.Hash, error) {
	if fullSHA.MatchString(rev) {
		return nil, plumbing.NewHash(rev), nil
	}
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{rawURL}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{PeelingOption: git.AppendPeeled})
	if err != nil {
		return nil, plumbing.ZeroHash, gitError("url", err)
	}
	byName := map[plumbing.ReferenceName]*plumbing.Reference{}
	for _, ref := range refs {
		byName[ref.Name()] = ref
	}
	target := func(ref *plumbing.Reference) plumbing.Hash {
		for i := 0; i < 5 && ref != nil && ref.Type() == plumbing.SymbolicReference; i++ {
			ref = byName[ref.Target()]
		}
		if ref == nil {
			return plumbing.ZeroHash
		}
		if peeled, ok := byName[ref.Name()+"^{}"]; ok {
			return peeled.Hash()
		}
		return ref.Hash()
	}
	if rev == "" {
		if h := target(byName[plumbing.HEAD]); !h.IsZero() {
			return nil, h, nil
		}
		return nil, plumbing.ZeroHash, permanent(Git, "revision", "the remote names no default branch (HEAD): give revision")
	}
	for _, name := range []string{"refs/heads/" + rev, "refs/tags/" + rev, rev} {
		if h := target(byName[plumbing.ReferenceName(name)]); !h.IsZero() {
			return nil, h, nil
		}
	}
	return nil, plumbing.ZeroHash, permanent(Git, "revision", "%q is neither a branch, a tag, a ref nor a full commit SHA of %s", rev, rawURL)
}

// cloneRef fetches the one commit hash into memory: a shallow single-ref clone when revision is a ref,
// a full clone when it is a commit SHA (servers need not serve unadvertised commits).
func (r *Resolvers) cloneRef(ctx context.Context, rawURL, rev string, hash plumbing.Hash) (*git.Repository, error) {
	opts := &git.CloneOptions{URL: rawURL, NoCheckout: true, Tags: git.NoTags}
	if !fullSHA.MatchString(rev) {
		opts.Depth = 1
		opts.SingleBranch = true
		switch {
		case rev == "":
			opts.ReferenceName = plumbing.HEAD
		case strings.HasPrefix(rev, "refs/"):
			opts.ReferenceName = plumbing.ReferenceName(rev)
		default:
			opts.ReferenceName = plumbing.ReferenceName("refs/heads/" + rev)
		}
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, opts)
	if err != nil && opts.ReferenceName != "" && !strings.HasPrefix(rev, "refs/") && rev != "" {
		// Not a branch: the tag of that name.
		opts.ReferenceName = plumbing.ReferenceName("refs/tags/" + rev)
		repo, err = git.CloneContext(ctx, memory.NewStorage(), nil, opts)
	}
	if err != nil {
		return nil, gitError("url", err)
	}
	if _, err := commitOf(repo, hash); err != nil {
		return nil, permanent(Git, "revision", "commit %s of %q not found in %s: %w", hash, rev, rawURL, err)
	}
	return repo, nil
}

// openLocal opens a repository on this machine (file:// URL) and resolves revision in it.
func openLocal(path, rev string) (*git.Repository, plumbing.Hash, error) {
	repo, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	if err != nil {
		return nil, plumbing.ZeroHash, permanent(Git, "url", "open %s: %w", path, err)
	}
	if rev == "" {
		rev = "HEAD"
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, plumbing.ZeroHash, permanent(Git, "revision", "%q not found in %s: %w", rev, path, err)
	}
	return repo, *h, nil
}

// commitOf returns the commit hash names, peeling annotated tags.
func commitOf(repo *git.Repository, hash plumbing.Hash) (*object.Commit, error) {
	if tag, err := repo.TagObject(hash); err == nil {
		return tag.Commit()
	}
	return repo.CommitObject(hash)
}

// gitError classifies a go-git transport error.
func gitError(param string, err error) error {
	var herr *githttp.Err
	var uerr *plumbing.UnexpectedError
	var nerr net.Error
	switch {
	case errors.Is(err, transport.ErrRepositoryNotFound), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return permanent(Git, param, "repository not found: %w", err)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return permanent(Git, param, "the repository needs credentials (hookrun clones anonymously): %w", err)
	case errors.Is(err, plumbing.ErrReferenceNotFound), errors.Is(err, git.NoMatchingRefSpecError{}):
		return permanent(Git, "revision", "not found: %w", err)
	case errors.Is(err, transport.ErrInvalidAuthMethod), errors.Is(err, transport.ErrEmptyUploadPackRequest):
		return permanent(Git, param, "%w", err)
	case errors.As(err, &uerr) && errors.As(uerr.Err, &herr):
		if c := herr.StatusCode(); c >= 500 || c == 429 || c == 408 {
			return transient(Git, param, err)
		}
		return permanent(Git, param, "%w", err)
	case errors.As(err, &nerr), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF):
		return transient(Git, param, fmt.Errorf("unreachable: %w", err))
	}
	return transient(Git, param, err)
}
