package dashboard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// logs streams one step's log as server-sent events, read through the API server's pods/log (the kubelet,
// or hookrun's node agent under `hookrun dev`), following it while the step runs. Events:
//
//	data: LINE        one log line
//	event: waiting    the step has not started yet (data: why); the stream resumes when it does
//	event: failed     the log cannot be read (data: why)
//	event: end        the step's log is complete
func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	ns, trName, step := r.PathValue("ns"), r.PathValue("taskrun"), r.PathValue("step")
	if !s.watched(ns) {
		http.NotFound(w, r)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ctx := r.Context()
	changed, cancel := s.hub.subscribe(func(c change) bool {
		return c.Kind == kindTaskRun && c.Namespace == ns && c.Name == trName
	})
	defer cancel()
	sseHeaders(w)
	send := func(event, data string) {
		if event != "" {
			fmt.Fprintf(w, "event: %s\n", event)
		}
		for _, l := range strings.Split(data, "\n") {
			fmt.Fprintf(w, "data: %s\n", l)
		}
		fmt.Fprint(w, "\n")
		fl.Flush()
	}
	fmt.Fprint(w, "retry: 600000\n\n") // the page decides when to reconnect, not the browser
	for attempt := 0; ; attempt++ {
		var tr pipelinev1.TaskRun
		if err := s.opts.Cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: trName}, &tr); err != nil {
			send("failed", "TaskRun "+trName+": "+err.Error())
			return
		}
		pod, container, _, err := findStep(&tr, step)
		if err != nil {
			send("failed", err.Error())
			return
		}
		finished := done(&tr.Status.Status)
		waiting := pod == "" || !stepStarted(&tr, step)
		if waiting && finished {
			send("failed", "the step never ran: "+stepNote(&tr, step))
			return
		}
		if !waiting {
			err = s.streamLog(s.untilTaskRunEnds(ctx, ns, trName), ns, pod, container, func(line string) { send("", line) })
			if err == nil || (ctx.Err() == nil && errors.Is(err, context.Canceled)) {
				send("end", "")
				return
			}
			if ctx.Err() != nil {
				return
			}
			if finished || attempt > 20 {
				send("failed", "pods/log "+pod+" "+container+": "+err.Error())
				return
			}
			s.log.Debug("step log not readable yet", "pod", pod, "container", container, "error", err)
		} else {
			send("waiting", "waiting for the step to start: "+stepNote(&tr, step))
		}
		// Try again when the TaskRun changes: an informer update, not a timer.
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// logGrace is how long a step's log is still followed after its TaskRun ended (the last lines, when the
// node has not closed the stream itself, e.g. a cancelled step whose Pod is kept).
const logGrace = 3 * time.Second

// untilTaskRunEnds returns a context cancelled logGrace after the TaskRun is seen finished (or with ctx).
func (s *Server) untilTaskRunEnds(ctx context.Context, ns, name string) context.Context {
	sctx, cancel := context.WithCancel(ctx)
	changed, unsubscribe := s.hub.subscribe(func(c change) bool {
		return c.Kind == kindTaskRun && c.Namespace == ns && c.Name == name
	})
	go func() {
		defer unsubscribe()
		for {
			var tr pipelinev1.TaskRun
			if err := s.opts.Cache.Get(sctx, client.ObjectKey{Namespace: ns, Name: name}, &tr); err == nil && done(&tr.Status.Status) {
				select {
				case <-sctx.Done():
				case <-time.After(logGrace):
					cancel()
				}
				return
			}
			select {
			case <-sctx.Done():
				return
			case <-changed:
			}
		}
	}()
	return sctx
}

func done(st *pipelinev1.Status) bool {
	c := st.GetCondition(pipelinev1.ConditionSucceeded)
	return c != nil && c.Status != corev1.ConditionUnknown
}

func stepStarted(tr *pipelinev1.TaskRun, step string) bool {
	for _, st := range tr.Status.Steps {
		if st.Name == step {
			return st.Running != nil || st.Terminated != nil
		}
	}
	return false
}

func stepNote(tr *pipelinev1.TaskRun, step string) string {
	for _, st := range tr.Status.Steps {
		if st.Name == step && st.Waiting != nil {
			return strings.TrimSpace(st.Waiting.Reason + " " + st.Waiting.Message)
		}
	}
	if tr.Status.PodName == "" {
		return "no Pod yet"
	}
	return "not started"
}

// streamLog follows a container's log through pods/log, calling line for each line, until the log ends.
func (s *Server) streamLog(ctx context.Context, ns, pod, container string, line func(string)) error {
	rc, err := s.opts.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line(strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}
