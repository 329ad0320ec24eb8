package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// PodDir is the directory holding a Pod's logs, volumes and bookkeeping.
func PodDir(stateDir, namespace, pod string) string {
	return filepath.Join(stateDir, "pods", namespace, pod)
}

// LogPath is the file receiving a container's stdout and stderr.
func LogPath(stateDir, namespace, pod, container string) string {
	return filepath.Join(PodDir(stateDir, namespace, pod), container+".log")
}

// PVCPath is the directory backing a PersistentVolumeClaim.
func PVCPath(stateDir, namespace, claim string) string {
	return filepath.Join(stateDir, "pvc", namespace, claim)
}

func exitPath(podDir, container string) string { return filepath.Join(podDir, container+".exit") }

// podMeta is <pod dir>/pod.json: which Pod the directory belongs to and its containers in run order.
type podMeta struct {
	UID        string   `json:"uid"`
	Containers []string `json:"containers"`
}

const podMetaFile = "pod.json"
const podDoneFile = "done"

func readPodMeta(dir string) (*podMeta, error) {
	data, err := os.ReadFile(filepath.Join(dir, podMetaFile))
	if err != nil {
		return nil, err
	}
	var m podMeta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, podMetaFile), err)
	}
	return &m, nil
}

// ErrNoLogs means the state directory has no logs for the Pod.
var ErrNoLogs = errors.New("no logs")

// WriteLogs copies the logs of a Pod run by an agent with this state directory to w. With container empty,
// every container that ran is printed in run order (init containers first), each line prefixed with
// "[container] ". With follow, it keeps reading until the container (each container in turn) has ended or
// ctx is done.
func WriteLogs(ctx context.Context, w io.Writer, stateDir, namespace, pod, container string, follow bool) error {
	dir := PodDir(stateDir, namespace, pod)
	meta, err := readPodMeta(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w for pod %s/%s under %s", ErrNoLogs, namespace, pod, stateDir)
		}
		return err
	}
	names := meta.Containers
	if container != "" {
		if !slices.Contains(names, container) {
			return fmt.Errorf("container %q is not in pod %s/%s (containers: %s)", container, namespace, pod,
				strings.Join(names, ", "))
		}
		names = []string{container}
	}
	for _, name := range names {
		out := w
		var pw *prefixWriter
		if container == "" {
			pw = &prefixWriter{w: w, prefix: "[" + name + "] ", bol: true}
			out = pw
		}
		if err := copyLog(ctx, out, dir, name, follow); err != nil {
			return err
		}
		if pw != nil && !pw.bol {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	return nil
}

const followPoll = 200 * time.Millisecond

func copyLog(ctx context.Context, w io.Writer, dir, name string, follow bool) error {
	logFile := filepath.Join(dir, name+".log")
	ended := func() bool {
		if _, err := os.Stat(exitPath(dir, name)); err == nil {
			return true
		}
		_, err := os.Stat(filepath.Join(dir, podDoneFile))
		return err == nil
	}
	f, err := os.Open(logFile)
	for follow && errors.Is(err, fs.ErrNotExist) && !ended() {
		if err := sleepCtx(ctx, followPoll); err != nil {
			return nil
		}
		f, err = os.Open(logFile)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never started
	}
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		// Check before reading so that whatever was written before the end marker is copied.
		done := !follow || ended()
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if done {
			return nil
		}
		if err := sleepCtx(ctx, followPoll); err != nil {
			return nil
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// prefixWriter prefixes each line with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	bol    bool // at the beginning of a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var buf []byte
	for _, c := range b {
		if p.bol {
			buf = append(buf, p.prefix...)
			p.bol = false
		}
		buf = append(buf, c)
		if c == '\n' {
			p.bol = true
		}
	}
	if _, err := p.w.Write(buf); err != nil {
		return 0, err
	}
	return len(b), nil
}
