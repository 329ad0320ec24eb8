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

// Archive keeps the logs of PipelineRuns that are deleted (by retention) in a directory: for each run,
// DIR/NAMESPACE/NAME.log (what Write prints for it) and DIR/NAMESPACE/NAME.json (the run as it ended).
// A Reader with an Archive prints the archived logs of a run that no longer exists.
type Archive struct {
	Dir string
}

// ErrNotArchived means the archive holds no run of that name.
var ErrNotArchived = errors.New("not in the log archive")

func (a *Archive) paths(ns, name string) (logPath, runPath string, err error) {
	// Names come from the API (or a user's command line): keep them inside the archive.
	for _, s := range []string{ns, name} {
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return "", "", fmt.Errorf("archive: %q: %s", s, errs[0])
		}
	}
	base := filepath.Join(a.Dir, ns, name)
	return base + ".log", base + ".json", nil
}

// Save writes the run's logs (read with r, from the API) and the run itself to the archive, replacing an
// earlier copy. Files are written whole or not at all.
func (a *Archive) Save(ctx context.Context, r *Reader, pr *pipelinev1.PipelineRun) error {
	logPath, runPath, err := a.paths(pr.Namespace, pr.Name)
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
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := writeFile(logPath, logs.Bytes()); err != nil {
		return err
	}
	return writeFile(runPath, run)
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

// Has reports whether the archive holds the run.
func (a *Archive) Has(ns, name string) bool {
	logPath, _, err := a.paths(ns, name)
	if err != nil {
		return false
	}
	_, err = os.Stat(logPath)
	return err == nil
}

// Run returns the archived run.
func (a *Archive) Run(ns, name string) (*pipelinev1.PipelineRun, error) {
	_, runPath, err := a.paths(ns, name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(runPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: PipelineRun %s/%s", ErrNotArchived, ns, name)
	}
	if err != nil {
		return nil, err
	}
	var pr pipelinev1.PipelineRun
	if err := json.Unmarshal(b, &pr); err != nil {
		return nil, fmt.Errorf("archive %s: %w", runPath, err)
	}
	return &pr, nil
}

// Copy writes the archived logs of a run to w.
func (a *Archive) Copy(w io.Writer, ns, name string) error {
	logPath, _, err := a.paths(ns, name)
	if err != nil {
		return err
	}
	f, err := os.Open(logPath)
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
