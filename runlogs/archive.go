package runlogs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/util/validation"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// Archive keeps the logs of PipelineRuns that are deleted (by retention): for each run, NAMESPACE/NAME.log
// (what Write prints for it) and NAMESPACE/NAME.json (the run as it ended), as files under Dir or, when
// Store is set, as objects of an S3-compatible bucket (package runlogs/s3archive). A Reader with an
// Archive prints the archived logs of a run that no longer exists.
type Archive struct {
	Dir string
	// Store, when set, holds the archive instead of Dir.
	Store ObjectStore
}

// ObjectStore is where an Archive keeps its objects when it is not a directory. Keys are
// NAMESPACE/NAME.log and NAMESPACE/NAME.json.
type ObjectStore interface {
	// Put stores data under key whole (a reader never sees part of it), replacing an earlier object.
	Put(ctx context.Context, key string, data []byte) error
	// Open reads the object; a missing one is an error wrapping fs.ErrNotExist.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Exists reports whether the object is there.
	Exists(ctx context.Context, key string) (bool, error)
	// String names the store for people (no credentials).
	String() string
}

// ErrNotArchived means the archive holds no run of that name.
var ErrNotArchived = errors.New("not in the log archive")

// Configured reports whether the archive has somewhere to keep runs.
func (a *Archive) Configured() bool { return a != nil && (a.Store != nil || a.Dir != "") }

func (a *Archive) String() string {
	if a.Store != nil {
		return a.Store.String()
	}
	return a.Dir
}

// keys are a run's objects, relative to the archive; names come from the API (or a user's command line):
// they are checked to stay inside it.
func keys(ns, name string) (logKey, runKey string, err error) {
	for _, s := range []string{ns, name} {
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return "", "", fmt.Errorf("archive: %q: %s", s, errs[0])
		}
	}
	return ns + "/" + name + ".log", ns + "/" + name + ".json", nil
}

// Save writes the run's logs (read with r, from the API) and the run itself to the archive, replacing an
// earlier copy. Each is written whole or not at all; the run is written last (it is what Run reads).
func (a *Archive) Save(ctx context.Context, r *Reader, pr *pipelinev1.PipelineRun) error {
	logKey, runKey, err := keys(pr.Namespace, pr.Name)
	if err != nil {
		return err
	}
	var logs bytes.Buffer
	if err := r.pipelineRun(ctx, &logs, pr.Namespace, pr.Name, Options{}); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("archive %s/%s: %w", pr.Namespace, pr.Name, err)
	}
	run, err := json.Marshal(pr)
	if err != nil {
		return err
	}
	if err := a.put(ctx, logKey, logs.Bytes()); err != nil {
		return err
	}
	return a.put(ctx, runKey, run)
}

func (a *Archive) put(ctx context.Context, key string, data []byte) error {
	if a.Store != nil {
		if err := a.Store.Put(ctx, key, data); err != nil {
			return fmt.Errorf("archive %s in %s: %w", key, a.Store, err)
		}
		return nil
	}
	path := filepath.Join(a.Dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return writeFile(path, data)
}

func (a *Archive) open(ctx context.Context, key string) (io.ReadCloser, error) {
	if a.Store != nil {
		return a.Store.Open(ctx, key)
	}
	return os.Open(filepath.Join(a.Dir, filepath.FromSlash(key)))
}

func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("archive %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("archive %s: %w", path, err)
	}
	return nil
}

// Has reports whether the archive holds the run (false when the store cannot be reached).
func (a *Archive) Has(ctx context.Context, ns, name string) bool {
	logKey, _, err := keys(ns, name)
	if err != nil {
		return false
	}
	if a.Store != nil {
		ok, err := a.Store.Exists(ctx, logKey)
		return err == nil && ok
	}
	_, err = os.Stat(filepath.Join(a.Dir, filepath.FromSlash(logKey)))
	return err == nil
}

// Run returns the archived run.
func (a *Archive) Run(ctx context.Context, ns, name string) (*pipelinev1.PipelineRun, error) {
	_, runKey, err := keys(ns, name)
	if err != nil {
		return nil, err
	}
	f, err := a.open(ctx, runKey)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: PipelineRun %s/%s", ErrNotArchived, ns, name)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pr pipelinev1.PipelineRun
	if err := json.NewDecoder(f).Decode(&pr); err != nil {
		return nil, fmt.Errorf("archive %s: %w", runKey, err)
	}
	return &pr, nil
}

// Copy writes the archived logs of a run to w.
func (a *Archive) Copy(ctx context.Context, w io.Writer, ns, name string) error {
	logKey, _, err := keys(ns, name)
	if err != nil {
		return err
	}
	f, err := a.open(ctx, logKey)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: PipelineRun %s/%s", ErrNotArchived, ns, name)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
