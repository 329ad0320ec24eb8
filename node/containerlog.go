package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"
)

// A container's output is kept in two files next to each other:
//
//	<container>.log      the raw bytes of stdout and stderr, interleaved (what `cat` and WriteLogs show)
//	<container>.log.idx  one 16-byte record per line: the line's offset in .log and the time its first
//	                     byte was read (Unix nanoseconds), both little-endian int64
//
// The index gives the kubelet API its timestamps, sinceSeconds/sinceTime and tailLines. The agent writes
// the index record of a line before the line itself, so every line a reader finds in .log has its record.
// When a container restarts, its files move to <container>.previous.log(.idx) (the kubelet's "previous").

const idxRecord = 16

func idxPath(logPath string) string { return logPath + ".idx" }

// PreviousLogPath is where the log of a container's previous instance (before its last restart) is kept.
func PreviousLogPath(stateDir, namespace, pod, container string) string {
	return LogPath(stateDir, namespace, pod, container+".previous")
}

// logCopier copies a container's output from a pipe into its log and index.
type logCopier struct {
	r, w *os.File // pipe: w is the process's stdout and stderr
	log  *os.File
	idx  *os.File
	off  int64 // bytes written to log
	bol  bool  // the next byte starts a line
	done chan struct{}
	err  error // first write error, read after done
}

// openContainerLog prepares the log of a container about to start. An earlier log of the container (a
// restart) becomes its previous log.
func openContainerLog(stateDir, namespace, pod, container string) (*logCopier, error) {
	logPath := LogPath(stateDir, namespace, pod, container)
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > 0 {
		prev := PreviousLogPath(stateDir, namespace, pod, container)
		if err := os.Rename(logPath, prev); err != nil {
			return nil, fmt.Errorf("keep previous log: %w", err)
		}
		_ = os.Remove(idxPath(prev))
		_ = os.Rename(idxPath(logPath), idxPath(prev))
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	idx, err := os.OpenFile(idxPath(logPath), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		log.Close()
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		log.Close()
		idx.Close()
		return nil, err
	}
	return &logCopier{r: r, w: w, log: log, idx: idx, bol: true, done: make(chan struct{})}, nil
}

// start copies until every writer of the pipe has closed it. Call it after the process started (the
// agent's own copy of the write end is closed here).
func (c *logCopier) start() {
	c.w.Close()
	go func() {
		defer close(c.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := c.r.Read(buf)
			if n > 0 && c.err == nil {
				c.err = c.write(buf[:n], time.Now())
			}
			if err != nil {
				return
			}
		}
	}()
}

// write appends output read at t: the index records of the lines it starts first, then the bytes.
func (c *logCopier) write(b []byte, t time.Time) error {
	if _, err := c.idx.Write(c.records(nil, b, t)); err != nil {
		return err
	}
	n, err := c.log.Write(b)
	c.off += int64(n)
	return err
}

// records appends the index records of the lines starting in chunk (written at offset c.off).
func (c *logCopier) records(rec, chunk []byte, t time.Time) []byte {
	for i := range chunk {
		if c.bol {
			rec = binary.LittleEndian.AppendUint64(rec, uint64(c.off+int64(i)))
			rec = binary.LittleEndian.AppendUint64(rec, uint64(t.UnixNano()))
		}
		c.bol = chunk[i] == '\n'
	}
	return rec
}

// finish waits for the copy to end (the process and everything that inherited its output are gone), at
// most timeout (a process that escaped its group may hold the pipe), then closes the files.
func (c *logCopier) finish(timeout time.Duration) error {
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.r.SetReadDeadline(time.Now())
		<-c.done
	}
	c.r.Close()
	return errors.Join(c.err, c.log.Close(), c.idx.Close())
}

// abort releases everything when the process could not be started.
func (c *logCopier) abort() {
	c.w.Close()
	c.r.Close()
	c.log.Close()
	c.idx.Close()
}

// logLine is the start of a line: its offset in the log and when it was written.
type logLine struct {
	off int64
	at  time.Time
}

// logFile reads a container log and its index.
type logFile struct {
	log   *os.File
	idx   *os.File
	lines []logLine // index records read so far
	part  []byte    // trailing partial record
}

func openLogFile(logPath string) (*logFile, error) {
	log, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	idx, err := os.Open(idxPath(logPath))
	if errors.Is(err, fs.ErrNotExist) {
		idx = nil // a log written before indexes existed: no timestamps
	} else if err != nil {
		log.Close()
		return nil, err
	}
	return &logFile{log: log, idx: idx}, nil
}

func (l *logFile) Close() {
	l.log.Close()
	if l.idx != nil {
		l.idx.Close()
	}
}

// refresh reads the index records written since the last call.
func (l *logFile) refresh() error {
	if l.idx == nil {
		return nil
	}
	b, err := io.ReadAll(l.idx)
	if err != nil {
		return err
	}
	b = append(l.part, b...)
	for len(b) >= idxRecord {
		l.lines = append(l.lines, logLine{
			off: int64(binary.LittleEndian.Uint64(b[:8])),
			at:  time.Unix(0, int64(binary.LittleEndian.Uint64(b[8:16]))).UTC(),
		})
		b = b[idxRecord:]
	}
	l.part = append(l.part[:0], b...)
	return nil
}

// lineAt returns the index of the line starting exactly at off, or -1.
func (l *logFile) lineAt(off int64) int {
	i := sort.Search(len(l.lines), func(i int) bool { return l.lines[i].off >= off })
	if i < len(l.lines) && l.lines[i].off == off {
		return i
	}
	return -1
}

// logOptions are the kubelet's container log query parameters.
type logOptions struct {
	follow     bool
	timestamps bool
	tailLines  int64     // < 0: all
	since      time.Time // zero: all
	limitBytes int64     // <= 0: no limit
}

// errLimit stops copying once limitBytes were written.
var errLimit = errors.New("limitBytes reached")

// limitWriter writes at most n bytes, then fails with errLimit.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	short := int64(len(b)) > l.n
	if short {
		b = b[:l.n]
	}
	n, err := l.w.Write(b)
	l.n -= int64(n)
	if err == nil && short {
		err = errLimit
	}
	return n, err
}

// startOffset is where output begins: tailLines lines before the end, then no line older than since.
func (l *logFile) startOffset(o logOptions, size int64) int64 {
	var lines []logLine
	for _, ln := range l.lines {
		if ln.off < size {
			lines = append(lines, ln)
		}
	}
	start := 0
	if o.tailLines >= 0 {
		if o.tailLines == 0 {
			return size
		}
		if l.idx == nil {
			return tailWithoutIndex(l.log, o.tailLines, size)
		}
		start = max(len(lines)-int(o.tailLines), 0)
	}
	if !o.since.IsZero() {
		for start < len(lines) && lines[start].at.Before(o.since) {
			start++
		}
	}
	if start >= len(lines) {
		if len(lines) == 0 && o.since.IsZero() {
			return 0
		}
		return size
	}
	return lines[start].off
}

// tailWithoutIndex finds the start of the last n lines by scanning the log.
func tailWithoutIndex(f *os.File, n, size int64) int64 {
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return int64(i + 1)
			}
		}
	}
	return 0
}

// copyRange writes log bytes [from, to) to w, a timestamp before each line start when asked.
func (l *logFile) copyRange(w io.Writer, from, to int64, timestamps bool) error {
	if from >= to {
		return nil
	}
	b := make([]byte, to-from)
	if _, err := l.log.ReadAt(b, from); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if !timestamps {
		_, err := w.Write(b)
		return err
	}
	var out []byte
	for i := 0; i < len(b); {
		if li := l.lineAt(from + int64(i)); li >= 0 {
			out = l.lines[li].at.AppendFormat(out, time.RFC3339Nano)
			out = append(out, ' ')
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			out = append(out, b[i:]...)
			break
		}
		out = append(out, b[i:i+j+1]...)
		i += j + 1
	}
	_, err := w.Write(out)
	return err
}
