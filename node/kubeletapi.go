package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet API subset the agent serves: GET /containerLogs/{namespace}/{pod}/{container}, which
// kube-apiserver calls for pods/log (kubectl logs), and /healthz. Only clients presenting a certificate
// signed by Options.KubeletClientCAFile (the API server's kubelet client certificate) get an answer.

// logPoll is how often a followed log is checked for new output.
const logPoll = 100 * time.Millisecond

// kubeletTLS loads the serving certificate and the client CA, or returns nil when none is configured.
func (o *Options) kubeletTLS() (*tls.Config, error) {
	if o.KubeletCertFile == "" && o.KubeletKeyFile == "" && o.KubeletClientCAFile == "" {
		return nil, nil
	}
	if o.KubeletCertFile == "" || o.KubeletKeyFile == "" || o.KubeletClientCAFile == "" {
		return nil, errors.New("node: the kubelet API needs KubeletCertFile, KubeletKeyFile and KubeletClientCAFile together")
	}
	cert, err := tls.LoadX509KeyPair(o.KubeletCertFile, o.KubeletKeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: kubelet serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(o.KubeletClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("node: kubelet client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("node: kubelet client CA %s: no PEM certificate in it", o.KubeletClientCAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// listenKubelet opens the kubelet API's listener (its port is published in the Node status).
func (a *Agent) listenKubelet() (net.Listener, error) {
	if a.kubeletTLS == nil {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.opts.KubeletAddr)
	if err != nil {
		return nil, fmt.Errorf("node: kubelet API address %s: %w", a.opts.KubeletAddr, err)
	}
	a.kubeletPort = int32(ln.Addr().(*net.TCPAddr).Port)
	return ln, nil
}

// serveKubelet serves the kubelet API on ln until the returned server is closed.
func (a *Agent) serveKubelet(ln net.Listener) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", a.serveContainerLogs)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         a.kubeletTLS,
		ReadHeaderTimeout: 10 * time.Second,
		// Refused handshakes (clients without the API server's certificate) are logged at debug level.
		ErrorLog: slog.NewLogLogger(a.log.With("component", "kubelet-api").Handler(), slog.LevelDebug),
	}
	go func() {
		if err := srv.Serve(tls.NewListener(ln, a.kubeletTLS)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("kubelet API stopped", "err", err)
		}
	}()
	a.log.Info("kubelet API serving container logs", "addr", ln.Addr().String())
	return srv
}

// parseLogOptions reads the kubelet's query parameters (those of PodLogOptions).
func parseLogOptions(q map[string][]string, now time.Time) (o logOptions, previous bool, err error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	boolean := func(k string) (bool, error) {
		v := get(k)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s: %w", k, err)
		}
		return b, nil
	}
	integer := func(k string, min int64) (int64, bool, error) {
		v := get(k)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %w", k, err)
		}
		if n < min {
			return 0, false, fmt.Errorf("%s: must be at least %d, not %d", k, min, n)
		}
		return n, true, nil
	}
	o.tailLines = -1
	if o.follow, err = boolean("follow"); err != nil {
		return
	}
	if previous, err = boolean("previous"); err != nil {
		return
	}
	if o.timestamps, err = boolean("timestamps"); err != nil {
		return
	}
	if n, ok, e := integer("tailLines", 0); e != nil {
		return o, false, e
	} else if ok {
		o.tailLines = n
	}
	if n, ok, e := integer("limitBytes", 1); e != nil {
		return o, false, e
	} else if ok {
		o.limitBytes = n
	}
	if n, ok, e := integer("sinceSeconds", 1); e != nil {
		return o, false, e
	} else if ok {
		o.since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := get("sinceTime"); v != "" {
		if !o.since.IsZero() {
			return o, false, errors.New("sinceSeconds and sinceTime cannot both be given")
		}
		t, e := time.Parse(time.RFC3339, v)
		if e != nil {
			return o, false, fmt.Errorf("sinceTime: %w", e)
		}
		o.since = t
	}
	return o, previous, nil
}

func (a *Agent) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	ns, podName, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, previous, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	dir := PodDir(a.opts.StateDir, ns, podName)
	meta, err := readPodMeta(dir)
	pod := a.cachedPod(ns, podName)
	switch {
	case errors.Is(err, fs.ErrNotExist) && pod != nil:
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, podName,
			waitingReason(pod, container)), http.StatusBadRequest)
		return
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, fmt.Sprintf("pod %s/%s is not on node %s", ns, podName, a.opts.NodeName), http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if pod != nil && string(pod.UID) != meta.UID {
		// A new Pod of this name that the agent has not started yet.
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, podName,
			waitingReason(pod, container)), http.StatusBadRequest)
		return
	}
	if !slices.Contains(meta.Containers, container) {
		http.Error(w, fmt.Sprintf("container %s is not valid for pod %s", container, podName), http.StatusBadRequest)
		return
	}
	logPath := LogPath(a.opts.StateDir, ns, podName, container)
	if previous {
		logPath = PreviousLogPath(a.opts.StateDir, ns, podName, container)
		opts.follow = false
	}
	lf, err := openLogFile(logPath)
	switch {
	case errors.Is(err, fs.ErrNotExist) && previous:
		http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, podName), http.StatusBadRequest)
		return
	case errors.Is(err, fs.ErrNotExist) && containerEnded(dir, container):
		w.Header().Set("Content-Type", "text/plain")
		return // it never started: no output
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: %s", container, podName,
			waitingReason(pod, container)), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer lf.Close()
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := streamLog(r, w, lf, logPath, dir, container, opts); err != nil && !errors.Is(err, errLimit) && r.Context().Err() == nil {
		a.log.Debug("container log stream", "pod", ns+"/"+podName, "container", container, "err", err)
	}
}

// streamLog writes the selected part of the log and, when following, what the container writes next,
// until it ends (or its log is replaced by a restart) or the client goes away.
func streamLog(r *http.Request, w http.ResponseWriter, lf *logFile, logPath, dir, container string, o logOptions) error {
	var out interface{ Write([]byte) (int, error) } = w
	if o.limitBytes > 0 {
		out = &limitWriter{w: w, n: o.limitBytes}
	}
	flusher, _ := w.(http.Flusher)
	pos := int64(-1)
	for {
		// Whatever the container wrote before its end marker is read below.
		ended := !o.follow || containerEnded(dir, container) || replaced(lf, logPath)
		fi, err := lf.log.Stat()
		if err != nil {
			return err
		}
		size := fi.Size()
		if err := lf.refresh(); err != nil {
			return err
		}
		if pos < 0 {
			pos = lf.startOffset(o, size)
		}
		if size > pos {
			if err := lf.copyRange(out, pos, size, o.timestamps); err != nil {
				return err
			}
			pos = size
			if flusher != nil {
				flusher.Flush()
			}
		}
		if ended {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(logPoll):
		}
	}
}

// containerEnded reports whether the container's process has ended (or the whole Pod has).
func containerEnded(dir, container string) bool {
	if _, err := os.Stat(exitPath(dir, container)); err == nil {
		return true
	}
	_, err := os.Stat(filepath.Join(dir, podDoneFile))
	return err == nil
}

// replaced reports whether the open log is no longer the container's current log (it restarted).
func replaced(lf *logFile, logPath string) bool {
	cur, err := os.Stat(logPath)
	if err != nil {
		return true
	}
	open, err := lf.log.Stat()
	return err != nil || !os.SameFile(cur, open)
}

func (a *Agent) cachedPod(ns, name string) *corev1.Pod {
	if a.ownPods == nil {
		return nil
	}
	obj, ok, err := a.ownPods.GetByKey(ns + "/" + name)
	if err != nil || !ok {
		return nil
	}
	return obj.(*corev1.Pod)
}

func waitingReason(pod *corev1.Pod, container string) string {
	if pod == nil {
		return "ContainerCreating"
	}
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, s := range list {
			if s.Name == container && s.State.Waiting != nil && s.State.Waiting.Reason != "" {
				return s.State.Waiting.Reason
			}
		}
	}
	return "ContainerCreating"
}
