package listener

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
)

// Dead letters.
//
// A delivery that reached the listener but could not be turned into runs because the Kubernetes API was
// unavailable is answered 503 and rolled back (hooks.go). GitHub does not retry by itself, so with a
// DeadLetter configured the raw delivery — its body and the headers a replay needs — is also written to a
// file (0600, in a 0700 directory), bounded in count and bytes (the oldest go first). RunDeadLetter
// re-submits the files through the listener's own handler once the API is back (signatures are checked
// again), and removes each once it is answered 2xx, or a 4xx that retrying cannot fix. `hookrun
// deliveries` lists the files and `hookrun redeliver ID` POSTs one to a listener.
//
// File format (ID.delivery): the line "hookrun-dead-letter/1", one line of JSON (DeadDelivery without its
// body), then the body's bytes, exactly Size of them.

// deadLetterMagic is a dead-letter file's first line.
const deadLetterMagic = "hookrun-dead-letter/1"

// deadLetterExt is the dead-letter files' extension.
const deadLetterExt = ".delivery"

// maxMetaLine bounds the JSON line of a dead-letter file.
const maxMetaLine = 1 << 20

// DeadDelivery is one stored delivery.
type DeadDelivery struct {
	ID            string      `json:"id"`
	Time          time.Time   `json:"time"`
	EventListener string      `json:"eventListener"`
	Path          string      `json:"path"` // the request path to replay it on, /hooks/NAME
	Provider      string      `json:"provider,omitempty"`
	Event         string      `json:"event,omitempty"`
	DeliveryID    string      `json:"deliveryID,omitempty"`
	Header        http.Header `json:"header"`
	Size          int64       `json:"size"`
	Digest        string      `json:"digest"` // sha256 of listener, path and body: the same delivery is stored once
	Attempts      int         `json:"attempts"`
	LastError     string      `json:"lastError,omitempty"`
	Body          []byte      `json:"-"`
}

// keptHeader reports whether a request header is stored with a dead letter: Content-Type, User-Agent and
// the providers' headers (event, delivery, signature, token: X-…, Webhook-…, Idempotency-Key, Ce-…).
// Authorization and cookies are not.
func keptHeader(name string) bool {
	n := strings.ToLower(name)
	switch {
	case n == "content-type", n == "user-agent", n == "idempotency-key":
		return true
	case strings.HasPrefix(n, "x-forwarded-"), n == "x-real-ip":
		return false
	}
	return strings.HasPrefix(n, "x-") || strings.HasPrefix(n, "webhook-") || strings.HasPrefix(n, "ce-")
}

// SecretHeader reports whether a header holds a secret (X-Gitlab-Token and the like): it is stored, a
// replay needs it, but never printed or logged.
func SecretHeader(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"token", "secret", "password", "authorization", "api-key", "apikey", "cookie"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// MarshalDeadDelivery encodes d in the file format.
func MarshalDeadDelivery(d DeadDelivery) ([]byte, error) {
	d.Size = int64(len(d.Body))
	meta, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	var b bytes.Buffer
	b.Grow(len(deadLetterMagic) + len(meta) + len(d.Body) + 2)
	b.WriteString(deadLetterMagic + "\n")
	b.Write(meta)
	b.WriteByte('\n')
	b.Write(d.Body)
	return b.Bytes(), nil
}

// ParseDeadDelivery decodes a dead-letter file; withBody false stops after the metadata.
func ParseDeadDelivery(r io.Reader, withBody bool) (DeadDelivery, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line := func() ([]byte, error) {
		var out []byte
		for {
			chunk, isPrefix, err := br.ReadLine()
			if err != nil {
				return nil, err
			}
			out = append(out, chunk...)
			if len(out) > maxMetaLine {
				return nil, errors.New("metadata line too long")
			}
			if !isPrefix {
				return out, nil
			}
		}
	}
	magic, err := line()
	if err != nil || string(magic) != deadLetterMagic {
		return DeadDelivery{}, errors.New("not a hookrun dead-letter file")
	}
	meta, err := line()
	if err != nil {
		return DeadDelivery{}, fmt.Errorf("dead-letter metadata: %w", err)
	}
	var d DeadDelivery
	if err := json.Unmarshal(meta, &d); err != nil {
		return DeadDelivery{}, fmt.Errorf("dead-letter metadata: %w", err)
	}
	if !validDeadID(d.ID) {
		return DeadDelivery{}, fmt.Errorf("dead-letter id %q is not valid", d.ID)
	}
	if d.Size < 0 || d.Size > 1<<31 {
		return DeadDelivery{}, fmt.Errorf("dead-letter size %d is not valid", d.Size)
	}
	if !strings.HasPrefix(d.Path, "/") {
		return DeadDelivery{}, fmt.Errorf("dead-letter path %q is not absolute", d.Path)
	}
	if !withBody {
		return d, nil
	}
	body, err := io.ReadAll(io.LimitReader(br, d.Size+1))
	if err != nil {
		return DeadDelivery{}, fmt.Errorf("dead-letter body: %w", err)
	}
	if int64(len(body)) != d.Size {
		return DeadDelivery{}, fmt.Errorf("dead-letter body is %d bytes, metadata says %d", len(body), d.Size)
	}
	d.Body = body
	return d, nil
}

// validDeadID accepts the ids newDeadID makes (and nothing that could leave the directory).
func validDeadID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func newDeadID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	now = now.UTC()
	return now.Format("20060102T150405") + fmt.Sprintf("%09dZ-", now.Nanosecond()) + hex.EncodeToString(b[:])
}

// DeadLetter is a directory of dead letters.
type DeadLetter struct {
	dir      string
	maxFiles int
	maxBytes int64
	log      *slog.Logger
	mu       sync.Mutex
}

// OpenDeadLetter creates dir (0700) if needed. maxFiles and maxBytes bound what it keeps (defaults 1000
// and 256 MiB); log may be nil.
func OpenDeadLetter(dir string, maxFiles int, maxBytes int64, log *slog.Logger) (*DeadLetter, error) {
	if maxFiles <= 0 {
		maxFiles = 1000
	}
	if maxBytes <= 0 {
		maxBytes = 256 << 20
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dead-letter directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dead-letter directory: %w", err)
	}
	return &DeadLetter{dir: dir, maxFiles: maxFiles, maxBytes: maxBytes, log: log}, nil
}

// Dir is the directory.
func (dl *DeadLetter) Dir() string { return dl.dir }

func (dl *DeadLetter) path(id string) string { return filepath.Join(dl.dir, id+deadLetterExt) }

// Put stores d (a new ID is given when empty). A delivery already stored (same digest) is not stored
// twice: its attempts and last error are updated. Then the oldest files beyond the bounds are removed.
func (dl *DeadLetter) Put(d DeadDelivery) (string, error) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	list, err := dl.list()
	if err != nil {
		return "", err
	}
	for _, o := range list {
		if d.Digest != "" && o.Digest == d.Digest {
			full, err := dl.get(o.ID)
			if err != nil {
				break
			}
			full.Attempts++
			full.LastError = d.LastError
			return full.ID, dl.write(full)
		}
	}
	if d.ID == "" {
		d.ID = newDeadID(d.Time)
	}
	d.Size = int64(len(d.Body))
	if err := dl.write(d); err != nil {
		return "", err
	}
	dl.trim(append(list, d))
	return d.ID, nil
}

// trim removes the oldest files while there are more than maxFiles or maxBytes.
func (dl *DeadLetter) trim(list []DeadDelivery) {
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	var total int64
	for _, d := range list {
		total += d.Size
	}
	for len(list) > 0 && (len(list) > dl.maxFiles || total > dl.maxBytes) {
		old := list[0]
		list = list[1:]
		total -= old.Size
		if err := os.Remove(dl.path(old.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			dl.log.Error("dead letter: cannot drop the oldest", "id", old.ID, "error", err)
			continue
		}
		dl.log.Warn("dead letter dropped: over the dead-letter bounds", "id", old.ID, "eventlistener", old.EventListener,
			"provider", old.Provider, "event", old.Event, "deliveryID", old.DeliveryID, "size", old.Size,
			"maxFiles", dl.maxFiles, "maxBytes", dl.maxBytes)
	}
}

// write replaces d's file atomically.
func (dl *DeadLetter) write(d DeadDelivery) error {
	data, err := MarshalDeadDelivery(d)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dl.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	if err := os.Rename(tmp.Name(), dl.path(d.ID)); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	return nil
}

// List returns the stored deliveries' metadata (no bodies), oldest first. Unreadable files are logged
// and left out.
func (dl *DeadLetter) List() ([]DeadDelivery, error) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.list()
}

func (dl *DeadLetter) list() ([]DeadDelivery, error) {
	entries, err := os.ReadDir(dl.dir)
	if err != nil {
		return nil, fmt.Errorf("dead-letter directory: %w", err)
	}
	var out []DeadDelivery
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), deadLetterExt)
		if !ok || !e.Type().IsRegular() || !validDeadID(id) {
			continue
		}
		d, err := dl.read(id, false)
		if err != nil {
			dl.log.Warn("dead letter unreadable", "file", e.Name(), "error", err)
			continue
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Get returns one stored delivery with its body.
func (dl *DeadLetter) Get(id string) (DeadDelivery, error) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.get(id)
}

func (dl *DeadLetter) get(id string) (DeadDelivery, error) {
	if !validDeadID(id) {
		return DeadDelivery{}, fmt.Errorf("dead letter %q: %w", id, fs.ErrNotExist)
	}
	return dl.read(id, true)
}

func (dl *DeadLetter) read(id string, withBody bool) (DeadDelivery, error) {
	f, err := os.Open(dl.path(id))
	if err != nil {
		return DeadDelivery{}, fmt.Errorf("dead letter %s: %w", id, err)
	}
	defer f.Close()
	d, err := ParseDeadDelivery(f, withBody)
	if err != nil {
		return DeadDelivery{}, fmt.Errorf("dead letter %s: %w", id, err)
	}
	if d.ID != id {
		return DeadDelivery{}, fmt.Errorf("dead letter %s: the file says it is %s", id, d.ID)
	}
	return d, nil
}

// Delete removes one stored delivery (no error if it is gone already).
func (dl *DeadLetter) Delete(id string) error {
	if !validDeadID(id) {
		return fmt.Errorf("dead letter %q: %w", id, fs.ErrNotExist)
	}
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if err := os.Remove(dl.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dead letter %s: %w", id, err)
	}
	return nil
}

// Update rewrites a stored delivery's attempts and last error.
func (dl *DeadLetter) Update(id string, attempts int, lastError string) error {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	d, err := dl.get(id)
	if err != nil {
		return err
	}
	d.Attempts, d.LastError = attempts, lastError
	return dl.write(d)
}

// Request builds the POST that replays d on base (a listener's URL; "" for an in-process request).
func (d DeadDelivery) Request(ctx context.Context, base string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+d.Path, bytes.NewReader(d.Body))
	if err != nil {
		return nil, fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	for k, vs := range d.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.ContentLength = int64(len(d.Body))
	return req, nil
}

// resubmitting marks the in-process re-submission of a dead letter: a second 503 updates the file
// instead of storing the delivery again.
type resubmitting struct{}

// deadLetter stores a delivery the listener answered 503 (the API unavailable) and rolled back.
func (s *Server) deadLetter(r *http.Request, el *triggersv1beta1.EventListener, d delivery, body []byte, resp *Response) {
	dl := s.opts.DeadLetter
	if dl == nil || r.Context().Value(resubmitting{}) != nil {
		return
	}
	h := http.Header{}
	for k, vs := range r.Header {
		if keptHeader(k) {
			h[k] = append([]string(nil), vs...)
		}
	}
	path := "/hooks/" + el.Name
	sum := sha256.Sum256(append([]byte(el.Namespace+"/"+el.Name+"\x00"+path+"\x00"), body...))
	reason := resp.Message
	for _, t := range resp.Triggers {
		if t.unavailable && t.Reason != "" {
			reason = t.Name + ": " + t.Reason
			break
		}
	}
	dd := DeadDelivery{Time: time.Now().UTC(), EventListener: el.Namespace + "/" + el.Name, Path: path, Provider: d.Provider,
		Event: d.Event, DeliveryID: d.ID, Header: h, Digest: hex.EncodeToString(sum[:]), Attempts: 1, LastError: reason, Body: body}
	id, err := dl.Put(dd)
	if err != nil {
		s.log.Error("dead letter not stored", "listener", el.Name, "deliveryID", d.ID, "error", err)
		return
	}
	s.log.Warn("delivery stored as a dead letter; re-submitted when the Kubernetes API is back", "listener", el.Name,
		"provider", d.Provider, "event", d.Event, "deliveryID", d.ID, "deadLetter", id)
}

// RunDeadLetter re-submits s's dead letters through its own handler every interval (default 10s) until
// ctx ends. It does nothing without Options.DeadLetter.
func (s *Server) RunDeadLetter(ctx context.Context, interval time.Duration) error {
	if s.opts.DeadLetter == nil {
		return nil
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	h := s.Handler()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.ResubmitDeadLetters(ctx, h)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ResubmitDeadLetters makes one pass over the dead letters, oldest first, through h (nil: s.Handler()),
// and returns how many were answered for good (and removed). It stops at the first that is answered
// 503/429/5xx again: the API is still unavailable.
func (s *Server) ResubmitDeadLetters(ctx context.Context, h http.Handler) int {
	dl := s.opts.DeadLetter
	if dl == nil {
		return 0
	}
	if h == nil {
		h = s.Handler()
	}
	list, err := dl.List()
	if err != nil {
		s.log.Error("dead letters unreadable", "error", err)
		return 0
	}
	done := 0
	for _, m := range list {
		if ctx.Err() != nil {
			return done
		}
		d, err := dl.Get(m.ID)
		if err != nil {
			s.log.Error("dead letter unreadable", "id", m.ID, "error", err)
			continue
		}
		req, err := d.Request(context.WithValue(ctx, resubmitting{}, true), "")
		if err != nil {
			s.log.Error("dead letter", "id", d.ID, "error", err)
			continue
		}
		req.RemoteAddr = "dead-letter"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		code := rec.Code
		log := s.log.With("deadLetter", d.ID, "eventlistener", d.EventListener, "provider", d.Provider, "event", d.Event,
			"deliveryID", d.DeliveryID, "code", code)
		if code/100 == 2 || (code/100 == 4 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests) {
			if err := dl.Delete(d.ID); err != nil {
				log.Error("dead letter answered but not removed", "error", err)
				continue
			}
			done++
			if code/100 == 2 {
				log.Info("dead letter delivered")
			} else {
				log.Warn("dead letter refused for good; removed", "answer", oneLineBody(rec.Body.Bytes()))
			}
			continue
		}
		if err := dl.Update(d.ID, d.Attempts+1, fmt.Sprintf("answered %d: %s", code, oneLineBody(rec.Body.Bytes()))); err != nil {
			log.Error("dead letter not updated", "error", err)
		}
		log.Info("dead letter still not deliverable; retrying later")
		return done
	}
	return done
}

func oneLineBody(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}
