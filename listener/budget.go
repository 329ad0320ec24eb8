package listener

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sync/semaphore"
)

// budget bounds the memory that request bodies and their decoded JSON hold at once, across every
// delivery in flight (--max-body-bytes-in-flight). A delivery reserves the bytes of its body as they
// arrive, and an estimate of its decoded form before it is decoded; a reservation that does not fit
// within wait is refused (429), one larger than the whole budget can never fit (413).
type budget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
}

var (
	// errOverBudget: the budget is spent by other deliveries right now; retry later (429).
	errOverBudget = errors.New("memory budget for bodies in flight exhausted")
	// errNeverFits: the reservation is larger than the whole budget (413).
	errNeverFits = errors.New("larger than the whole memory budget for bodies in flight")
)

func newBudget(size int64, wait time.Duration) *budget {
	return &budget{sem: semaphore.NewWeighted(size), size: size, wait: wait}
}

// hold is one delivery's share of the budget; release gives it back.
type hold struct {
	b *budget
	n int64
}

func (b *budget) hold() *hold { return &hold{b: b} }

// grow reserves n more bytes, waiting at most the budget's wait (and never past ctx).
func (h *hold) grow(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	if h.n+n > h.b.size {
		return errNeverFits
	}
	if !h.b.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, h.b.wait)
		defer cancel()
		if err := h.b.sem.Acquire(wctx, n); err != nil {
			return errOverBudget
		}
	}
	h.n += n
	return nil
}

// shrink gives back n of the bytes held.
func (h *hold) shrink(n int64) {
	if n > h.n {
		n = h.n
	}
	if n > 0 {
		h.b.sem.Release(n)
		h.n -= n
	}
}

// release gives back everything held.
func (h *hold) release() { h.shrink(h.n) }

// errBodyTimeout: the sender did not finish sending the body within --body-timeout (408).
var errBodyTimeout = errors.New("body not received in time")

// errBodyTooLarge: more than --max-body bytes arrived (413).
var errBodyTooLarge = errors.New("body over the limit")

// firstChunk is the buffer a body is first read into: a typical push or merge-request payload fits.
const firstChunk = 64 << 10

// growth is the factor the body buffer grows by when full: large enough that the buffers left behind
// for the GC stay small (a 24 MiB body leaves 4.6 MiB: 64 KiB, 512 KiB, 4 MiB), small enough that a
// sender holds at most 8× the bytes it actually sent.
const growth = 8

// readBody reads the request body within --body-timeout, reserving budget for the buffer as it grows:
// a sender holds at most 8× the bytes it has actually sent (a body announced as 25 MiB and dribbled
// byte by byte holds 64 KiB), and the buffer ends at exactly Content-Length when one was given.
func (s *Server) readBody(ctx context.Context, w http.ResponseWriter, r *http.Request, h *hold) ([]byte, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.opts.BodyTimeout)) // unsupported writers (tests) keep the server's
	// Once the body is in, no deadline: a read error in net/http's background read (which watches for the
	// client going away) would cancel the delivery's context. On an error the deadline stays, so that what
	// the server reads of an abandoned body after the answer is bounded too.
	ok := false
	defer func() {
		if ok {
			_ = rc.SetReadDeadline(time.Time{})
		}
	}()
	limit := s.opts.MaxBody
	known := r.ContentLength
	if known == 0 {
		ok = true
		return nil, nil
	}
	capFor := func(want int64) int64 {
		if known > 0 && want > known {
			return known
		}
		if known < 0 && want > limit+1 {
			return limit + 1 // one byte more than allowed tells an oversize chunked body
		}
		return want
	}
	size := capFor(firstChunk)
	if err := h.grow(ctx, size); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, errBodyTooLarge
			}
			if known > 0 && int64(len(buf)) == known {
				break
			}
			// The reservation grows by what the buffer grows: while the copy is made the old buffer is
			// still alive, an overshoot of at most one buffer that the GC headroom covers.
			next := capFor(growth * int64(cap(buf)))
			if err := h.grow(ctx, next-int64(cap(buf))); err != nil {
				return nil, err
			}
			nb := make([]byte, len(buf), next)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			var ne net.Error
			if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
				return nil, errBodyTimeout
			}
			return nil, fmt.Errorf("could not read the request body: %w", err)
		}
	}
	if int64(len(buf)) > limit {
		return nil, errBodyTooLarge
	}
	ok = true
	return buf, nil
}

// bodyAnswer maps a readBody or decode error to the HTTP status and message of the answer.
func (s *Server) bodyAnswer(err error) (int, string) {
	switch {
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, fmt.Sprintf("the body did not arrive within %s (--body-timeout)", s.opts.BodyTimeout)
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over the %d-byte limit (--max-body)", s.opts.MaxBody)
	case errors.Is(err, errNeverFits):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("payload needs more memory than the listener's whole budget for bodies in flight (%d bytes, --max-body-bytes-in-flight)", s.opts.MaxBodyBytesInFlight)
	case errors.Is(err, errOverBudget):
		return http.StatusTooManyRequests, "the listener's memory budget for bodies in flight is spent by other deliveries; retry later"
	case errors.Is(err, errTooManyValues):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("payload has more than %d JSON values (--max-json-values)", s.opts.MaxJSONValues)
	}
	return http.StatusBadRequest, err.Error()
}

// slots bounds the deliveries processed at once (--max-in-flight). A delivery takes a slot only once its
// body is in memory: a slow sender never holds one. Deliveries that find every slot taken wait in a
// backlog of bounded length, for at most the given time; beyond either, they are refused (429).
type slots struct {
	free    chan struct{}
	waiting chan struct{}
	wait    time.Duration
}

func newSlots(n, backlog int, wait time.Duration) *slots {
	return &slots{free: make(chan struct{}, n), waiting: make(chan struct{}, backlog), wait: wait}
}

// acquire takes a slot; the returned function gives it back. ok is false when the delivery must be
// refused.
func (sl *slots) acquire(ctx context.Context) (release func(), ok bool) {
	select {
	case sl.free <- struct{}{}:
		return func() { <-sl.free }, true
	default:
	}
	select {
	case sl.waiting <- struct{}{}:
	default:
		return nil, false // the backlog is full
	}
	defer func() { <-sl.waiting }()
	t := time.NewTimer(sl.wait)
	defer t.Stop()
	select {
	case sl.free <- struct{}{}:
		return func() { <-sl.free }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
