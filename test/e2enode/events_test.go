package e2enode

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// eventLog records containerd's task and container events (`ctr events`, nanosecond timestamps) so the
// suite can say when each container of a Pod was created, started and exited on the real node.
type eventLog struct {
	n    *node
	cmd  *exec.Cmd
	mu   sync.Mutex
	evs  []ctrEvent
	info map[string]ctrInfo // container id → Pod and container names
	done chan struct{}
}

type ctrEvent struct {
	At    time.Time
	Topic string
	ID    string
}

type ctrInfo struct {
	Namespace, Pod, Container, Kind string
}

// containerTimes are the runtime's view of one container.
type containerTimes struct {
	Create, Start, Exit time.Time
}

const ctrTimeLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

func (n *node) watchEvents() (*eventLog, error) {
	e := &eventLog{n: n, info: map[string]ctrInfo{}, done: make(chan struct{})}
	e.cmd = exec.Command("ctr", "--address", n.ctrSock, "events")
	out, err := e.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(e.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			e.parse(sc.Text())
		}
		_ = e.cmd.Wait()
	}()
	return e, nil
}

// parse reads one `ctr events` line: "2006-01-02 15:04:05.999999999 +0000 UTC NAMESPACE TOPIC {json}".
func (e *eventLog) parse(line string) {
	f := strings.SplitN(line, " ", 7)
	if len(f) < 7 || f[4] != "k8s.io" {
		return
	}
	at, err := time.Parse(ctrTimeLayout, strings.Join(f[:4], " "))
	if err != nil {
		return
	}
	var body struct {
		ID          string `json:"id"`
		ContainerID string `json:"container_id"`
	}
	_ = json.Unmarshal([]byte(f[6]), &body)
	id := body.ContainerID
	if id == "" {
		id = body.ID
	}
	switch f[5] {
	case "/containers/create", "/tasks/create", "/tasks/start", "/tasks/exit":
	default:
		return
	}
	e.mu.Lock()
	e.evs = append(e.evs, ctrEvent{At: at, Topic: f[5], ID: id})
	e.mu.Unlock()
	if f[5] == "/containers/create" {
		go e.lookup(id)
	}
}

// lookup reads a container's CRI labels (Pod and container name) while it exists.
func (e *eventLog) lookup(id string) {
	e.mu.Lock()
	_, known := e.info[id]
	e.mu.Unlock()
	if known {
		return
	}
	out, err := e.n.ctr("containers", "info", id)
	if err != nil {
		return
	}
	var c struct {
		Labels map[string]string `json:"Labels"`
	}
	if json.Unmarshal([]byte(out), &c) != nil {
		return
	}
	e.mu.Lock()
	e.info[id] = ctrInfo{
		Namespace: c.Labels["io.kubernetes.pod.namespace"],
		Pod:       c.Labels["io.kubernetes.pod.name"],
		Container: c.Labels["io.kubernetes.container.name"],
		Kind:      c.Labels["io.cri-containerd.kind"],
	}
	e.mu.Unlock()
}

// pod returns the times of every container of a Pod ("" = the sandbox), by container name.
func (e *eventLog) pod(ns, name string) map[string]containerTimes {
	e.mu.Lock()
	evs := append([]ctrEvent(nil), e.evs...)
	var unknown []string
	for _, ev := range evs {
		if _, ok := e.info[ev.ID]; !ok {
			unknown = append(unknown, ev.ID)
		}
	}
	e.mu.Unlock()
	for _, id := range unknown {
		e.lookup(id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]containerTimes{}
	for _, ev := range evs {
		in, ok := e.info[ev.ID]
		if !ok || in.Namespace != ns || in.Pod != name {
			continue
		}
		key := in.Container
		if in.Kind == "sandbox" {
			key = ""
		}
		ct := out[key]
		switch ev.Topic {
		case "/containers/create":
			if ct.Create.IsZero() {
				ct.Create = ev.At
			}
		case "/tasks/start":
			if ct.Start.IsZero() {
				ct.Start = ev.At
			}
		case "/tasks/exit":
			if ct.Exit.IsZero() {
				ct.Exit = ev.At
			}
		}
		out[key] = ct
	}
	return out
}

func (e *eventLog) stop() {
	if e.cmd.Process != nil {
		_ = e.cmd.Process.Kill()
	}
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
	}
}

// timingTable is the summary printed at the end.
type timingTable struct {
	mu    sync.Mutex
	lines []string
}

var timings timingTable

func (tt *timingTable) add(name string, d time.Duration) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.lines = append(tt.lines, fmt.Sprintf("phase %-22s %8.1fs", name, d.Seconds()))
}

func (tt *timingTable) note(format string, args ...any) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.lines = append(tt.lines, fmt.Sprintf(format, args...))
}

func (tt *timingTable) print() {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	fmt.Println(">> e2e-node summary")
	for _, l := range tt.lines {
		fmt.Println("   " + l)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%7.1fms", float64(d.Microseconds())/1000) }
