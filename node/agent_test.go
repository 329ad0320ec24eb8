package node_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/node"
)

var nodeSeq atomic.Int64

// testAgent is an agent running in this process for one test.
type testAgent struct {
	*node.Agent
	name  string
	state string
	stop  func()
}

// startAgent runs an agent with a node name of its own (so tests never see each other's Pods) until the
// test ends.
func startAgent(t *testing.T, mode node.MountMode, mutate ...func(*node.Options)) *testAgent {
	t.Helper()
	name := fmt.Sprintf("hookrun-test-%d", nodeSeq.Add(1))
	state := t.TempDir()
	opts := node.Options{
		Config:            env.Config,
		NodeName:          name,
		StateDir:          state,
		Mounts:            mode,
		HeartbeatInterval: 300 * time.Millisecond,
		StopGracePeriod:   2 * time.Second,
		Logger:            slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	env.KubeletOptions(&opts) // kubectl logs works on every test agent
	for _, f := range mutate {
		f(&opts)
	}
	a, err := node.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once atomic.Bool
	stop := func() {
		if once.Swap(true) {
			return
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("agent did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	// Wait for the Node to be Ready so Pods created next are bound.
	waitFor(t, 30*time.Second, "node Ready", func() (bool, error) {
		var n corev1.Node
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &n); err != nil {
			return false, nil
		}
		return nodeReady(&n) == corev1.ConditionTrue, nil
	})
	if mode != node.MountAuto && a.MountMode() != mode {
		t.Fatalf("mount mode %q, want %q", a.MountMode(), mode)
	}
	return &testAgent{Agent: a, name: name, state: state, stop: stop}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func nodeReady(n *corev1.Node) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

func waitFor(t *testing.T, timeout time.Duration, what string, f func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := f()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sh is a container running a shell script.
func sh(name, script string, mounts ...corev1.VolumeMount) corev1.Container {
	return corev1.Container{Name: name, Image: "docker.io/library/busybox", Command: []string{"sh", "-c", script}, VolumeMounts: mounts}
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

// newPod returns a Pod that only the given agent's binding rule accepts.
func newPod(a *testAgent, ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "demo"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector:  map[string]string{"kubernetes.io/hostname": a.name},
		},
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

func getPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return &p
}

// waitPhase waits for a terminal (or the given) phase and returns the Pod.
func waitPhase(t *testing.T, ns, name string, timeout time.Duration, phases ...corev1.PodPhase) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	waitFor(t, timeout, fmt.Sprintf("pod %s phase in %v", name, phases), func() (bool, error) {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			return false, err
		}
		for _, ph := range phases {
			if p.Status.Phase == ph {
				return true, nil
			}
		}
		return false, nil
	})
	return &p
}

func containerStatus(t *testing.T, p *corev1.Pod, name string) corev1.ContainerStatus {
	t.Helper()
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("pod %s has no status for container %s", p.Name, name)
	return corev1.ContainerStatus{}
}

func terminated(t *testing.T, p *corev1.Pod, name string) *corev1.ContainerStateTerminated {
	t.Helper()
	s := containerStatus(t, p, name)
	if s.State.Terminated == nil {
		t.Fatalf("container %s not terminated: %+v", name, s.State)
	}
	return s.State.Terminated
}

func condition(p *corev1.Pod, ct corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == ct {
			return c.Status
		}
	}
	return ""
}

func readLog(t *testing.T, a *testAgent, ns, pod, container string) string {
	t.Helper()
	b, err := os.ReadFile(node.LogPath(a.state, ns, pod, container))
	if err != nil {
		t.Fatalf("log of %s: %v", container, err)
	}
	return string(b)
}

// modes runs f once per mount mechanism (namespace only where this machine supports it).
func modes(t *testing.T, f func(t *testing.T, mode node.MountMode)) {
	for _, mode := range []node.MountMode{node.MountNamespace, node.MountRewrite} {
		t.Run(string(mode), func(t *testing.T) {
			if mode == node.MountNamespace && os.Geteuid() != 0 {
				t.Skip("mount namespaces need root")
			}
			f(t, mode)
		})
	}
}

func TestNodeRegisteredAndLeaseRenewed(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ctx := context.Background()
	var n corev1.Node
	if err := env.Client.Get(ctx, client.ObjectKey{Name: a.name}, &n); err != nil {
		t.Fatal(err)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods} {
		c, ok := n.Status.Capacity[r]
		if !ok || c.IsZero() {
			t.Errorf("capacity %s missing or zero: %v", r, n.Status.Capacity)
		}
		if al := n.Status.Allocatable[r]; al.Cmp(c) != 0 {
			t.Errorf("allocatable %s = %s, capacity %s", r, al.String(), c.String())
		}
	}
	if n.Labels["kubernetes.io/hostname"] != a.name || n.Labels["kubernetes.io/os"] == "" {
		t.Errorf("labels: %v", n.Labels)
	}
	if n.Status.NodeInfo.KubeletVersion == "" || n.Status.NodeInfo.OperatingSystem == "" || n.Status.NodeInfo.ContainerRuntimeVersion == "" {
		t.Errorf("nodeInfo: %+v", n.Status.NodeInfo)
	}
	if len(n.Status.Addresses) == 0 || n.Status.Addresses[0].Address != "127.0.0.1" {
		t.Errorf("addresses: %v", n.Status.Addresses)
	}
	heartbeat := func() time.Time {
		var n corev1.Node
		if err := env.Client.Get(ctx, client.ObjectKey{Name: a.name}, &n); err != nil {
			t.Fatal(err)
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.LastHeartbeatTime.Time
			}
		}
		return time.Time{}
	}
	renew := func() (*coordinationv1.Lease, time.Time) {
		var l coordinationv1.Lease
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: node.LeaseNamespace, Name: a.name}, &l); err != nil {
			t.Fatalf("lease: %v", err)
		}
		return &l, l.Spec.RenewTime.Time
	}
	// The Node and its Lease are written one after the other: wait for the Lease too.
	waitFor(t, 10*time.Second, "lease created", func() (bool, error) {
		var l coordinationv1.Lease
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: node.LeaseNamespace, Name: a.name}, &l)
		return err == nil, nil
	})
	l, firstRenew := renew()
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != a.name || l.Spec.LeaseDurationSeconds == nil {
		t.Errorf("lease spec: %+v", l.Spec)
	}
	if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].UID != n.UID {
		t.Errorf("lease owner: %+v", l.OwnerReferences)
	}
	firstBeat := heartbeat()
	// Heartbeat times have a 1s resolution (metav1.Time); the interval is 300ms.
	waitFor(t, 10*time.Second, "lease renewed and Ready heartbeat updated", func() (bool, error) {
		_, r := renew()
		return r.After(firstRenew) && heartbeat().After(firstBeat), nil
	})

	a.stop()
	if err := env.Client.Get(ctx, client.ObjectKey{Name: a.name}, &n); err != nil {
		t.Fatal(err)
	}
	if got := nodeReady(&n); got != corev1.ConditionFalse {
		t.Errorf("after stop: Ready = %s, want False", got)
	}
}

func TestInitContainersThenContainer(t *testing.T) {
	modes(t, func(t *testing.T, mode node.MountMode) {
		a := startAgent(t, mode)
		ns := env.Namespace(t)
		data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
		p := newPod(a, ns, "init-then-main")
		p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
		p.Spec.InitContainers = []corev1.Container{
			sh("first", "echo one > /data/f; echo first-out; echo first-err >&2", data),
			sh("second", "echo two >> /data/f", data),
		}
		main := sh("main", "cat /data/f; printf 'all good' > /tekton/termination", data)
		main.TerminationMessagePath = "/tekton/termination"
		p.Spec.Containers = []corev1.Container{main}
		create(t, p)

		got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
		if got.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s: %+v", got.Status.Phase, got.Status)
		}
		if got.Spec.NodeName != a.name {
			t.Errorf("nodeName %q, want %q (bound by the agent)", got.Spec.NodeName, a.name)
		}
		for _, c := range []string{"first", "second", "main"} {
			term := terminated(t, got, c)
			if term.ExitCode != 0 || term.Reason != "Completed" || term.StartedAt.IsZero() || term.FinishedAt.IsZero() {
				t.Errorf("%s: %+v", c, term)
			}
		}
		if msg := terminated(t, got, "main").Message; msg != "all good" {
			t.Errorf("termination message %q, want %q", msg, "all good")
		}
		if got.Status.PodIP != "127.0.0.1" || got.Status.HostIP != "127.0.0.1" || got.Status.StartTime == nil {
			t.Errorf("ips/startTime: %+v", got.Status)
		}
		if condition(got, corev1.PodInitialized) != corev1.ConditionTrue || condition(got, corev1.PodScheduled) != corev1.ConditionTrue ||
			condition(got, corev1.PodReady) != corev1.ConditionFalse {
			t.Errorf("conditions: %+v", got.Status.Conditions)
		}
		if l := readLog(t, a, ns, p.Name, "main"); l != "one\ntwo\n" {
			t.Errorf("main log %q", l)
		}
		if l := readLog(t, a, ns, p.Name, "first"); !strings.Contains(l, "first-out\n") || !strings.Contains(l, "first-err\n") {
			t.Errorf("first log (stdout+stderr) %q", l)
		}
		var buf bytes.Buffer
		if err := node.WriteLogs(context.Background(), &buf, a.state, ns, p.Name, "", false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "[main] one\n[main] two\n") || !strings.HasPrefix(buf.String(), "[first] ") {
			t.Errorf("WriteLogs:\n%s", buf.String())
		}
	})
}

func TestContainerFailures(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
	tests := []struct {
		name   string
		init   []corev1.Container
		main   corev1.Container
		check  string // container whose terminated state is checked
		code   int32
		reason string
		msg    string // substring of the termination message
		never  []string
	}{{
		name: "init-fails",
		init: []corev1.Container{
			sh("fails", "echo about to fail; exit 3", data),
			sh("later", "touch /data/later-ran", data),
		},
		main:  sh("main", "touch /data/main-ran", data),
		check: "fails", code: 3, reason: "Error",
		never: []string{"later", "main"},
	}, {
		name:  "no-command",
		main:  corev1.Container{Name: "step-build", Image: "gcr.io/kaniko-project/executor:v1.23.2", Args: []string{"--destination=x"}},
		check: "step-build", code: 127, reason: node.ReasonContainerRuntimeRequired, msg: "real node",
	}, {
		name: "no-command-init",
		init: []corev1.Container{
			{Name: "step-build", Image: "gcr.io/kaniko-project/executor:v1.23.2", Args: []string{"--dockerfile=Dockerfile"}},
			sh("step-after", "touch /data/later-ran", data),
		},
		main:  sh("main", "true"),
		check: "step-build", code: 127, reason: node.ReasonContainerRuntimeRequired, msg: "kubelet + container runtime",
		never: []string{"step-after", "main"},
	}, {
		name:  "not-found",
		main:  corev1.Container{Name: "main", Image: "x", Command: []string{"no-such-binary-hookrun"}},
		check: "main", code: 128, reason: "StartError", msg: "no-such-binary-hookrun",
	}, {
		name:  "exit-code-and-fallback-message",
		main:  corev1.Container{Name: "main", Image: "x", Command: []string{"sh", "-c", "echo last words; exit 42"}, TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError},
		check: "main", code: 42, reason: "Error", msg: "last words",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(a, ns, tc.name)
			p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
			p.Spec.InitContainers = tc.init
			p.Spec.Containers = []corev1.Container{tc.main}
			create(t, p)
			got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
			if got.Status.Phase != corev1.PodFailed {
				t.Fatalf("phase %s, want Failed", got.Status.Phase)
			}
			term := terminated(t, got, tc.check)
			if term.ExitCode != tc.code || term.Reason != tc.reason || !strings.Contains(term.Message, tc.msg) {
				t.Errorf("%s terminated = %+v; want exit %d reason %s message ~%q", tc.check, term, tc.code, tc.reason, tc.msg)
			}
			for _, c := range tc.never {
				s := containerStatus(t, got, c)
				if s.State.Waiting == nil || s.State.Waiting.Reason != "PodInitializing" {
					t.Errorf("%s state %+v, want waiting PodInitializing", c, s.State)
				}
			}
			if len(tc.never) > 0 && condition(got, corev1.PodInitialized) != corev1.ConditionFalse {
				t.Errorf("Initialized = %s, want False", condition(got, corev1.PodInitialized))
			}
			for _, f := range []string{"later-ran", "main-ran"} {
				if _, err := os.Stat(filepath.Join(node.PodDir(a.state, ns, p.Name), "volumes", "data", f)); err == nil {
					t.Errorf("%s exists: a container that must never start ran", f)
				}
			}
		})
	}
}

func TestEnvSecretsConfigMapsAndVolumes(t *testing.T) {
	modes(t, func(t *testing.T, mode node.MountMode) {
		a := startAgent(t, mode)
		ns := env.Namespace(t)
		create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
			Data: map[string][]byte{"token": []byte("s3cret"), "user": []byte("alice")}})
		create(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns},
			Data: map[string]string{"COLOR": "blue", "SIZE": "xl", "config.yaml": "a: 1\n"}})
		p := newPod(a, ns, "env")
		p.Spec.Volumes = []corev1.Volume{
			{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds",
				Items: []corev1.KeyToPath{{Key: "token", Path: "auth/token"}}}}},
			{Name: "settings", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
			{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
		}
		script := `echo "token=$TOKEN cm=$CFG_COLOR/$CFG_SIZE name=$POD ns=$NS node=$NODE ip=$IP app=$APP uid=$UID_SET greeting=$GREETING"
echo "arg=$1"
echo "file=$(cat /etc/hookrun-test-creds/auth/token)"
echo "yaml=$(cat /config/config.yaml)"
echo "labels=$(cat /podinfo/labels)"
touch /etc/hookrun-test-creds/new 2>/dev/null && echo writable || echo read-only
true`
		main := corev1.Container{Name: "main", Image: "busybox", Command: []string{"sh", "-c", script, "sh", "$(GREETING) from $(POD), $$(POD)"},
			EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
			Env: []corev1.EnvVar{
				{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
				{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
				{Name: "UID_SET", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
				{Name: "GREETING", Value: "hello $(CFG_COLOR)"},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "creds", MountPath: "/etc/hookrun-test-creds"},
				{Name: "settings", MountPath: "/config"},
				{Name: "info", MountPath: "/podinfo"},
			},
		}
		p.Spec.Containers = []corev1.Container{main}
		create(t, p)
		got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
		log := readLog(t, a, ns, p.Name, "main")
		if got.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s; log:\n%s", got.Status.Phase, log)
		}
		want := []string{
			fmt.Sprintf("token=s3cret cm=blue/xl name=env ns=%s node=%s ip=127.0.0.1 app=demo uid=%s greeting=hello blue", ns, a.name, got.UID),
			"arg=hello blue from env, $(POD)",
			"file=s3cret",
			"yaml=a: 1",
			`labels=app="demo"`,
		}
		for _, w := range want {
			if !strings.Contains(log, w+"\n") {
				t.Errorf("log lacks %q:\n%s", w, log)
			}
		}
		if mode == node.MountNamespace {
			if !strings.Contains(log, "read-only\n") {
				t.Errorf("secret volume is writable in the container:\n%s", log)
			}
			if _, err := os.Stat("/etc/hookrun-test-creds"); err == nil {
				t.Error("/etc/hookrun-test-creds was created on the host; mount points must stay inside the namespace")
			}
		}
	})
}

func TestMissingSecretWaitsThenRuns(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	p := newPod(a, ns, "late-secret")
	p.Spec.Containers = []corev1.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c", "echo $V"},
		Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "late"}, Key: "v"}}}}}}
	create(t, p)
	waitFor(t, 30*time.Second, "CreateContainerConfigError", func() (bool, error) {
		s := getPod(t, ns, p.Name).Status
		return len(s.ContainerStatuses) == 1 && s.ContainerStatuses[0].State.Waiting != nil &&
			s.ContainerStatuses[0].State.Waiting.Reason == "CreateContainerConfigError", nil
	})
	if ph := getPod(t, ns, p.Name).Status.Phase; ph != corev1.PodPending {
		t.Fatalf("phase %s, want Pending while the secret is missing", ph)
	}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: ns}, Data: map[string][]byte{"v": []byte("arrived")}})
	got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if got.Status.Phase != corev1.PodSucceeded || readLog(t, a, ns, p.Name, "main") != "arrived\n" {
		t.Fatalf("phase %s, log %q", got.Status.Phase, readLog(t, a, ns, p.Name, "main"))
	}
}

func TestPVCSharedAcrossPods(t *testing.T) {
	modes(t, func(t *testing.T, mode node.MountMode) {
		a := startAgent(t, mode)
		ns := env.Namespace(t)
		create(t, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "ws", Namespace: ns},
			Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}})
		pvc := corev1.Volume{Name: "ws", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "ws"}}}
		mount := corev1.VolumeMount{Name: "ws", MountPath: "/workspace/source"}
		for i, script := range []string{
			"mkdir -p /workspace/source/repo && echo from-first > /workspace/source/repo/file",
			"cat /workspace/source/repo/file",
		} {
			p := newPod(a, ns, fmt.Sprintf("pvc-%d", i))
			p.Spec.Volumes = []corev1.Volume{pvc}
			c := sh("main", script, mount)
			c.WorkingDir = "/workspace/source"
			p.Spec.Containers = []corev1.Container{c}
			create(t, p)
			if got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed); got.Status.Phase != corev1.PodSucceeded {
				t.Fatalf("pod %s: %s; log %q", p.Name, got.Status.Phase, readLog(t, a, ns, p.Name, "main"))
			}
		}
		if l := readLog(t, a, ns, "pvc-1", "main"); l != "from-first\n" {
			t.Errorf("second pod read %q", l)
		}
		if b, err := os.ReadFile(filepath.Join(node.PVCPath(a.state, ns, "ws"), "repo", "file")); err != nil || string(b) != "from-first\n" {
			t.Errorf("PVC directory content %q, %v", b, err)
		}
	})
}

// pidAlive reports whether a process exists and is not a zombie.
func pidAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}

// sleeper is a container whose background grandchild (sleep 60) writes its pid to /data/pid: killing only
// the shell would leave it running, so checking it checks that the whole process group is killed.
func sleeper() corev1.Container {
	return sh("main", "sleep 60 & echo $! > /data/pid.tmp; mv /data/pid.tmp /data/pid; wait", corev1.VolumeMount{Name: "data", MountPath: "/data"})
}

func waitPid(t *testing.T, a *testAgent, ns, pod string) int {
	t.Helper()
	file := filepath.Join(node.PodDir(a.state, ns, pod), "volumes", "data", "pid")
	var pid int
	waitFor(t, 30*time.Second, "pid file", func() (bool, error) {
		b, err := os.ReadFile(file)
		if err != nil {
			return false, nil
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil, err
	})
	if !pidAlive(pid) {
		t.Fatalf("sleep %d not running", pid)
	}
	return pid
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("process %d gone", pid), func() (bool, error) { return !pidAlive(pid), nil })
}

func TestActiveDeadline(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	p := newPod(a, ns, "deadline")
	p.Spec.ActiveDeadlineSeconds = new(int64(3))
	p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
	p.Spec.Containers = []corev1.Container{sleeper()}
	create(t, p)
	pid := waitPid(t, a, ns, p.Name)
	start := time.Now()
	got := waitPhase(t, ns, p.Name, 30*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if got.Status.Phase != corev1.PodFailed || got.Status.Reason != node.ReasonDeadlineExceeded {
		t.Fatalf("phase %s reason %q, want Failed DeadlineExceeded", got.Status.Phase, got.Status.Reason)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("took %s to enforce a 3s deadline", time.Since(start))
	}
	term := terminated(t, got, "main")
	if term.Reason != node.ReasonDeadlineExceeded || term.ExitCode == 0 {
		t.Errorf("main terminated %+v", term)
	}
	waitDead(t, pid)
}

func TestPodDeletedMidRun(t *testing.T) {
	modes(t, func(t *testing.T, mode node.MountMode) {
		a := startAgent(t, mode)
		ns := env.Namespace(t)
		p := newPod(a, ns, "deleted")
		p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
		p.Spec.Containers = []corev1.Container{sleeper()}
		create(t, p)
		pid := waitPid(t, a, ns, p.Name)
		waitPhase(t, ns, p.Name, 30*time.Second, corev1.PodRunning)
		if err := env.Client.Delete(context.Background(), p); err != nil { // default grace period (30s)
			t.Fatal(err)
		}
		start := time.Now()
		waitFor(t, 30*time.Second, "pod gone", func() (bool, error) {
			err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(p), &corev1.Pod{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		if time.Since(start) > 20*time.Second {
			t.Errorf("deletion took %s although the process died on SIGTERM", time.Since(start))
		}
		waitDead(t, pid)
		if _, err := os.Stat(node.LogPath(a.state, ns, p.Name, "main")); err != nil {
			t.Errorf("logs should outlive the Pod: %v", err)
		}
	})
}

func TestAgentStopFailsRunningPods(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	p := newPod(a, ns, "stopped")
	p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
	p.Spec.Containers = []corev1.Container{sleeper()}
	create(t, p)
	pid := waitPid(t, a, ns, p.Name)
	a.stop()
	if pidAlive(pid) {
		t.Errorf("process %d still running after Run returned", pid)
	}
	got := getPod(t, ns, p.Name)
	if got.Status.Phase != corev1.PodFailed || got.Status.Reason != node.ReasonNodeAgentStopped {
		t.Errorf("phase %s reason %q, want Failed %s", got.Status.Phase, got.Status.Reason, node.ReasonNodeAgentStopped)
	}
}

// TestAgentCrashRestart kills an agent process with SIGKILL while its Pod runs, then starts a new agent for
// the same node: the Pod must end Failed with NodeAgentRestarted, not stay Running.
func TestAgentCrashRestart(t *testing.T) {
	name := fmt.Sprintf("hookrun-crash-%d", nodeSeq.Add(1))
	state := t.TempDir()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(exe, "node-agent", kubeconfig, name, state)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	ns := env.Namespace(t)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "crash", Namespace: ns}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		NodeSelector:  map[string]string{"kubernetes.io/hostname": name},
		Volumes:       []corev1.Volume{emptyDir("data")},
		Containers:    []corev1.Container{sleeper()},
	}}
	create(t, p)
	waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodRunning)
	pid := waitPid(t, &testAgent{state: state}, ns, p.Name)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got := getPod(t, ns, p.Name); got.Status.Phase != corev1.PodRunning {
		t.Fatalf("after SIGKILL the Pod is %s; expected it left Running", got.Status.Phase)
	}

	a, err := node.New(node.Options{Config: env.Config, NodeName: name, StateDir: state,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	got := waitPhase(t, ns, p.Name, 30*time.Second, corev1.PodFailed, corev1.PodSucceeded)
	if got.Status.Phase != corev1.PodFailed || got.Status.Reason != node.ReasonNodeAgentRestarted ||
		!strings.Contains(got.Status.Message, "lost") {
		t.Errorf("phase %s reason %q message %q", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if term := terminated(t, got, "main"); term.Reason != node.ReasonNodeAgentRestarted {
		t.Errorf("main: %+v", term)
	}
	// The crashed agent's processes (the shell's background sleep outlives a SIGKILLed agent) are killed.
	waitDead(t, pid)
}

func TestSelfImageRunsSelfPath(t *testing.T) {
	modes(t, func(t *testing.T, mode node.MountMode) {
		a := startAgent(t, mode)
		exe, _ := os.Executable()
		ns := env.Namespace(t)
		bin := corev1.VolumeMount{Name: "tekton-bin", MountPath: "/tekton/bin"}
		p := newPod(a, ns, "self")
		p.Spec.Volumes = []corev1.Volume{emptyDir("tekton-bin")}
		p.Spec.InitContainers = []corev1.Container{
			{Name: "prepare", Image: "ghcr.io/hookrun/hookrun:latest",
				Command: []string{"hookrun", "step", "init", "--copy-self", "/tekton/bin/hookrun"}, VolumeMounts: []corev1.VolumeMount{bin}},
			{Name: "step-hello", Image: "docker.io/library/alpine:3", Command: []string{"/tekton/bin/hookrun", "version", "step"}, VolumeMounts: []corev1.VolumeMount{bin}},
		}
		p.Spec.Containers = []corev1.Container{
			{Name: "hookrun-results", Image: "ghcr.io/hookrun/hookrun@sha256:0123", Args: []string{"version", "results"}},
		}
		create(t, p)
		got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
		var buf bytes.Buffer
		_ = node.WriteLogs(context.Background(), &buf, a.state, ns, p.Name, "", false)
		if got.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s; logs:\n%s", got.Status.Phase, buf.String())
		}
		if l := readLog(t, a, ns, p.Name, "prepare"); !strings.Contains(l, "copied "+exe) {
			t.Errorf("prepare did not run SelfPath (%s): %q", exe, l)
		}
		if l := readLog(t, a, ns, p.Name, "step-hello"); !strings.Contains(l, `hookrun stand-in args=["step"]`) {
			t.Errorf("step-hello did not run the copied binary: %q", l)
		}
		if l := readLog(t, a, ns, p.Name, "hookrun-results"); !strings.Contains(l, `hookrun stand-in args=["results"] exe=`+exe) {
			t.Errorf("hookrun-results (self image, args only) did not run SelfPath: %q", l)
		}
		if _, err := os.Stat(filepath.Join(node.PodDir(a.state, ns, p.Name), "volumes", "tekton-bin", "hookrun")); err != nil {
			t.Errorf("copied binary not in the emptyDir: %v", err)
		}
	})
}

func TestNativeSidecar(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
	always := corev1.ContainerRestartPolicyAlways
	side := sh("sidecar", "echo up > /data/sidecar; exec sleep 60", data)
	side.RestartPolicy = &always
	crashy := sh("crashy", "echo crash; exit 1")
	crashy.RestartPolicy = &always
	p := newPod(a, ns, "sidecar")
	p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
	p.Spec.InitContainers = []corev1.Container{side, crashy, sh("after-sidecar", "for i in $(seq 50); do [ -f /data/sidecar ] && exit 0; sleep 0.1; done; exit 1", data)}
	p.Spec.Containers = []corev1.Container{sh("main", "sleep 2.5; cat /data/sidecar", data)}
	create(t, p)
	got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if got.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("phase %s: %+v", got.Status.Phase, got.Status)
	}
	if readLog(t, a, ns, p.Name, "main") != "up\n" {
		t.Errorf("main log %q", readLog(t, a, ns, p.Name, "main"))
	}
	if s := containerStatus(t, got, "sidecar"); s.State.Terminated == nil {
		t.Errorf("sidecar not terminated at the end of the Pod: %+v", s.State)
	}
	s := containerStatus(t, got, "crashy")
	if s.RestartCount < 1 || s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 1 {
		t.Errorf("crashing sidecar not restarted: restarts %d, last state %+v", s.RestartCount, s.LastTerminationState)
	}
	// Like the kubelet, the log is the current instance's; the one before is the previous log (--previous).
	prev, err := os.ReadFile(node.PreviousLogPath(a.state, ns, p.Name, "crashy"))
	// The instance running when the Pod ends may be stopped before it printed (a loaded machine): its log
	// is then empty, never the instances' before it.
	if l := readLog(t, a, ns, p.Name, "crashy"); (l != "crash\n" && l != "") || err != nil || string(prev) != "crash\n" {
		t.Errorf("crashy log %q, previous log %q (%v); want at most one run in the log and one in the previous log", l, prev, err)
	}
}

func TestBindingRule(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	other := "not-" + a.name
	tests := []struct {
		name string
		edit func(*corev1.Pod)
		bind bool
	}{
		{"selector-matches", func(*corev1.Pod) {}, true},
		{"selector-other-node", func(p *corev1.Pod) { p.Spec.NodeSelector["kubernetes.io/hostname"] = other }, false},
		{"other-scheduler", func(p *corev1.Pod) { p.Spec.SchedulerName = "volcano" }, false},
		{"affinity-matches", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{a.name}}}}}}}}
		}, true},
		{"affinity-excludes", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/os", Operator: corev1.NodeSelectorOpDoesNotExist}}}}}}}
		}, false},
		{"gated", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}} }, false},
		{"bound-elsewhere", func(p *corev1.Pod) { p.Spec.NodeName = other }, false},
	}
	for _, tc := range tests {
		p := newPod(a, ns, tc.name)
		p.Spec.Containers = []corev1.Container{sh("main", "true")}
		tc.edit(p)
		create(t, p)
	}
	waitFor(t, 30*time.Second, "matching pods Succeeded", func() (bool, error) {
		for _, tc := range tests {
			if tc.bind && getPod(t, ns, tc.name).Status.Phase != corev1.PodSucceeded {
				return false, nil
			}
		}
		return true, nil
	})
	time.Sleep(time.Second) // give a wrong binding a chance to happen
	for _, tc := range tests {
		got := getPod(t, ns, tc.name)
		switch {
		case tc.bind && got.Spec.NodeName != a.name:
			t.Errorf("%s: nodeName %q, want %q", tc.name, got.Spec.NodeName, a.name)
		case !tc.bind && (got.Spec.NodeName == a.name || got.Status.Phase != "" && got.Status.Phase != corev1.PodPending):
			t.Errorf("%s: bound to %q, phase %q; must be left alone", tc.name, got.Spec.NodeName, got.Status.Phase)
		}
	}
}

func TestStateDirLocked(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	b, err := node.New(node.Options{Config: env.Config, NodeName: a.name + "-b", StateDir: a.state})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Run(ctx); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second agent on the same state dir: %v", err)
	}
}

// TestStatePrivate: the agent's state (secret volumes, tokens, logs) is this user's only, even when the
// directory existed before with wider rights.
func TestStatePrivate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err := node.New(node.Options{Config: env.Config, NodeName: "private-" + strings.ToLower(strconv.FormatInt(time.Now().UnixNano(), 36)), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := os.Stat(state)
		if err == nil && st.Mode().Perm() == 0o700 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state dir mode %v, want 0700", st.Mode().Perm())
		}
	}
}

// TestRootlessNamespace runs a whole agent as an unprivileged user: the mount namespace then lives in a user
// namespace (the user is root inside it), and mountPaths are still literal.
func TestRootlessNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start an agent as another user")
	}
	const nobody = 65534
	dir, err := os.MkdirTemp("", "hookrun-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	state := filepath.Join(dir, "state")
	for _, d := range []string{dir, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	exe, _ := os.Executable()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hookrun-standin")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(kubeconfig, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("hookrun-rootless-%d", nodeSeq.Add(1))
	var out bytes.Buffer
	cmd := exec.Command(bin, "node-agent", kubeconfig, name, state)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("agent output:\n%s", out.String())
		}
	})
	var n corev1.Node
	waitFor(t, 30*time.Second, "rootless node Ready", func() (bool, error) {
		if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &n); err != nil {
			return false, nil
		}
		return nodeReady(&n) == corev1.ConditionTrue, nil
	})
	if rt := n.Status.NodeInfo.ContainerRuntimeVersion; rt != "hookrun-process://namespace" {
		t.Skipf("unprivileged user namespaces unavailable here (runtime %q)", rt)
	}

	ns := env.Namespace(t)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: ns}, Data: map[string][]byte{"k": []byte("v")}})
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "rootless", Namespace: ns}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		NodeSelector:  map[string]string{"kubernetes.io/hostname": name},
		Volumes: []corev1.Volume{emptyDir("data"),
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}},
		Containers: []corev1.Container{sh("main", "id -u; cat /etc/rootless-secret/k; echo; echo x > /data/f; cat /data/f; touch /etc/rootless-secret/no 2>/dev/null || echo read-only",
			corev1.VolumeMount{Name: "data", MountPath: "/data"}, corev1.VolumeMount{Name: "s", MountPath: "/etc/rootless-secret"})},
	}}
	create(t, p)
	got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	log, _ := os.ReadFile(node.LogPath(state, ns, p.Name, "main"))
	if got.Status.Phase != corev1.PodSucceeded || string(log) != "0\nv\nx\nread-only\n" {
		t.Fatalf("phase %s, log %q", got.Status.Phase, log)
	}
	fi, err := os.Stat(filepath.Join(node.PodDir(state, ns, p.Name), "volumes", "data", "f"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody {
		t.Errorf("file written in the emptyDir is owned by %d on the host, want %d", st.Uid, nobody)
	}
}

// TestPostStartHookHoldsNextContainer: as with the kubelet, a regular container's postStart exec hook
// runs to its end before the next container starts, and a hook that fails kills its container.
func TestPostStartHookHoldsNextContainer(t *testing.T) {
	a := startAgent(t, node.MountAuto)
	ns := env.Namespace(t)
	data := corev1.VolumeMount{Name: "data", MountPath: "/data"}
	hooked := sh("hooked", "sleep 30", data)
	hooked.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
		Command: []string{"sh", "-c", "sleep 0.5; echo ready > /data/hook"}}}}
	// The first container must not end before its hook has run: it waits for the hook's file.
	hooked.Command = []string{"sh", "-c", "for i in $(seq 100); do [ -f /data/hook ] && exit 0; sleep 0.1; done; exit 1"}
	failing := sh("failing-hook", "sleep 30")
	failing.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "exit 3"}}}}
	p := newPod(a, ns, "poststart")
	p.Spec.Volumes = []corev1.Volume{emptyDir("data")}
	p.Spec.Containers = []corev1.Container{hooked, sh("next", "cat /data/hook", data), failing}
	create(t, p)
	got := waitPhase(t, ns, p.Name, 60*time.Second, corev1.PodSucceeded, corev1.PodFailed)
	if l := readLog(t, a, ns, p.Name, "next"); l != "ready\n" {
		t.Errorf("next container log %q: it started before the first one's postStart hook ended", l)
	}
	if term := terminated(t, got, "hooked"); term.ExitCode != 0 {
		t.Errorf("hooked: %+v", term)
	}
	term := terminated(t, got, "failing-hook")
	if term.ExitCode == 0 || !strings.Contains(term.Message, "FailedPostStartHook") {
		t.Errorf("a container whose hook failed: %+v, want it killed with FailedPostStartHook", term)
	}
	if got.Status.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed (a container was killed)", got.Status.Phase)
	}
}
