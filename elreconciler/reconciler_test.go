package elreconciler_test

// These tests run the reconciler against a real kube-apiserver (envtest). envtest runs no
// kube-controller-manager: no Deployment controller writes Deployment status and no garbage collector
// deletes owned objects, so the tests write a Deployment's status themselves to stand for availability,
// and check the ownerReferences that make the garbage collector cascade a delete (the cascade itself is
// the real-node test's to see).

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	triggersv1beta1 "github.com/hookrun/hookrun/api/triggers/v1beta1"
	"github.com/hookrun/hookrun/elreconciler"
	"github.com/hookrun/hookrun/test/controlplane"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

const image = "hookrun:el-test"

// start runs the reconciler for namespace ns until the test ends.
func start(t *testing.T, ns string) {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  env.Scheme,
		Cache:   elreconciler.CacheOptions(cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}}),
		Metrics: metricsserver.Options{BindAddress: "0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = elreconciler.Setup(mgr, elreconciler.Options{Image: image, Namespace: ns, SkipNameValidation: true,
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

// eventListener decodes YAML into an EventListener in ns and creates it.
func eventListener(t *testing.T, ns, doc string) *triggersv1beta1.EventListener {
	t.Helper()
	var el triggersv1beta1.EventListener
	if err := yaml.UnmarshalStrict([]byte(doc), &el); err != nil {
		t.Fatal(err)
	}
	el.Namespace = ns
	if err := env.Client.Create(context.Background(), &el); err != nil {
		t.Fatal(err)
	}
	return &el
}

// eventually polls f until it returns nil, or fails with its last error.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func get[T client.Object](t *testing.T, ns, name string, o T) T {
	t.Helper()
	eventually(t, fmt.Sprintf("get %T %s", o, name), func() error {
		return env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, o)
	})
	return o
}

func TestShapes(t *testing.T) {
	ns := env.Namespace(t)
	start(t, ns)
	tests := []struct {
		name string
		el   string
		// check fails the test when the Deployment or Service differ from Tekton's shape.
		check func(t *testing.T, d *appsv1.Deployment, s *corev1.Service)
		url   string
	}{{
		name: "defaults",
		el: `
metadata: {name: github-listener, labels: {team: a}, annotations: {note: x}}
spec:
  serviceAccountName: tekton-triggers-sa
  triggers: [{triggerRef: t}]`,
		url: "http://el-github-listener.NS.svc.cluster.local:8080",
		check: func(t *testing.T, d *appsv1.Deployment, s *corev1.Service) {
			pod := d.Spec.Template.Spec
			want(t, "serviceAccountName", pod.ServiceAccountName, "tekton-triggers-sa")
			want(t, "replicas (defaulted by the API server)", *d.Spec.Replicas, int32(1))
			want(t, "containers", len(pod.Containers), 1)
			c := pod.Containers[0]
			want(t, "container name", c.Name, "event-listener")
			want(t, "image", c.Image, image)
			wantArgs(t, c.Args, "listener", "--addr=:8080", "--metrics-addr=:9000", "--eventlistener=github-listener",
				"--namespace=NS", "--watch-namespace=NS", "--any-path", "--write-status=false")
			want(t, "container ports", fmt.Sprint(portsOf(c.Ports)), "[http-listener:8080 http-metrics:9000]")
			want(t, "readiness probe", probe(c.ReadinessProbe), "HTTP /readyz 8080")
			want(t, "liveness probe", probe(c.LivenessProbe), "HTTP /livez 8080")
			want(t, "readOnlyRootFilesystem", *c.SecurityContext.ReadOnlyRootFilesystem, true)
			want(t, "pod runAsNonRoot", *pod.SecurityContext.RunAsNonRoot, true)
			want(t, "service type", s.Spec.Type, corev1.ServiceTypeClusterIP)
			want(t, "service ports", fmt.Sprint(svcPorts(s.Spec.Ports)), "[http-listener:8080->8080 http-metrics:9000->9000]")
			want(t, "object label team", d.Labels["team"], "a")
			want(t, "object annotation note", s.Annotations["note"], "x")
			want(t, "pod label team", d.Spec.Template.Labels["team"], "a")
		},
	}, {
		name: "no serviceAccountName runs as default",
		el:   `{metadata: {name: plain}, spec: {}}`,
		url:  "http://el-plain.NS.svc.cluster.local:8080",
		check: func(t *testing.T, d *appsv1.Deployment, _ *corev1.Service) {
			want(t, "serviceAccountName", d.Spec.Template.Spec.ServiceAccountName, "default")
		},
	}, {
		name: "kubernetesResource merged",
		el: `
metadata: {name: custom}
spec:
  serviceAccountName: el-sa
  resources:
    kubernetesResource:
      replicas: 3
      serviceType: NodePort
      servicePort: 30080
      spec:
        metadata:
          labels: {tier: hooks, eventlistener: hijack}
          annotations: {prometheus.io/scrape: "true"}
        spec:
          serviceAccountName: template-sa
          nodeSelector: {disktype: ssd}
          tolerations: [{key: dedicated, operator: Equal, value: ci, effect: NoSchedule}]
          securityContext: {runAsUser: 1000}
          containers:
          - resources:
              requests: {cpu: 50m, memory: 32Mi}
              limits: {memory: 128Mi}
            env: [{name: EXTRA, value: "1"}]
            readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 3}`,
		url: "http://el-custom.NS.svc.cluster.local:30080",
		check: func(t *testing.T, d *appsv1.Deployment, s *corev1.Service) {
			pod := d.Spec.Template.Spec
			want(t, "replicas", *d.Spec.Replicas, int32(3))
			want(t, "template serviceAccountName wins", pod.ServiceAccountName, "template-sa")
			want(t, "nodeSelector", pod.NodeSelector["disktype"], "ssd")
			want(t, "tolerations", len(pod.Tolerations), 1)
			want(t, "pod securityContext", *pod.SecurityContext.RunAsUser, int64(1000))
			want(t, "pod label tier", d.Spec.Template.Labels["tier"], "hooks")
			want(t, "selector label wins", d.Spec.Template.Labels["eventlistener"], "custom")
			want(t, "pod annotation", d.Spec.Template.Annotations["prometheus.io/scrape"], "true")
			c := pod.Containers[0]
			want(t, "memory limit", c.Resources.Limits.Memory().String(), "128Mi")
			want(t, "env appended", envNames(c.Env), "NAMESPACE,NAME,EXTRA")
			want(t, "readiness probe period", c.ReadinessProbe.PeriodSeconds, int32(3))
			want(t, "liveness probe default", probe(c.LivenessProbe), "HTTP /livez 8080")
			want(t, "service type", s.Spec.Type, corev1.ServiceTypeNodePort)
			want(t, "service ports", fmt.Sprint(svcPorts(s.Spec.Ports)), "[http-listener:30080->8080 http-metrics:9000->9000]")
			want(t, "node port is servicePort", s.Spec.Ports[0].NodePort, int32(30080))
		},
	}, {
		name: "TLS from TLS_CERT and TLS_KEY",
		el: `
metadata: {name: secure}
spec:
  resources:
    kubernetesResource:
      spec:
        spec:
          containers:
          - env:
            - {name: TLS_CERT, valueFrom: {secretKeyRef: {name: tls-secret, key: tls.crt}}}
            - {name: TLS_KEY, valueFrom: {secretKeyRef: {name: tls-secret, key: tls.key}}}`,
		url: "https://el-secure.NS.svc.cluster.local:8443",
		check: func(t *testing.T, d *appsv1.Deployment, s *corev1.Service) {
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			wantArgs(t, c.Args, "--tls-cert=/etc/triggers/tls/tls.crt", "--tls-key=/etc/triggers/tls/tls.key")
			// /tmp (an emptyDir: the root file system is read-only), then the certificate.
			want(t, "volume", len(pod.Volumes) == 2 && pod.Volumes[0].EmptyDir != nil && pod.Volumes[1].Secret != nil && pod.Volumes[1].Secret.SecretName == "tls-secret", true)
			want(t, "mount", len(c.VolumeMounts) == 2 && c.VolumeMounts[0].MountPath == "/tmp" && c.VolumeMounts[1].MountPath == "/etc/triggers/tls", true)
			want(t, "probe scheme", probe(c.ReadinessProbe), "HTTPS /readyz 8080")
			want(t, "service ports", fmt.Sprint(svcPorts(s.Spec.Ports)), "[https-listener:8443->8080 http-metrics:9000->9000]")
		},
	}, {
		name: "LoadBalancer with class",
		el: `
metadata: {name: lb}
spec:
  resources:
    kubernetesResource: {serviceType: LoadBalancer, serviceLoadBalancerClass: example.com/lb, servicePort: 80}`,
		url: "http://el-lb.NS.svc.cluster.local:80",
		check: func(t *testing.T, _ *appsv1.Deployment, s *corev1.Service) {
			want(t, "service type", s.Spec.Type, corev1.ServiceTypeLoadBalancer)
			want(t, "class", s.Spec.LoadBalancerClass != nil && *s.Spec.LoadBalancerClass == "example.com/lb", true)
			want(t, "port", s.Spec.Ports[0].Port, int32(80))
		},
	}, {
		name: "namespaceSelector watches the named namespaces",
		el:   `{metadata: {name: multi}, spec: {namespaceSelector: {matchNames: [team-a, team-b]}}}`,
		url:  "http://el-multi.NS.svc.cluster.local:8080",
		check: func(t *testing.T, d *appsv1.Deployment, _ *corev1.Service) {
			wantArgs(t, d.Spec.Template.Spec.Containers[0].Args, "--watch-namespace=NS", "--watch-namespace=team-a", "--watch-namespace=team-b")
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			el := eventListener(t, ns, tc.el)
			name := "el-" + el.Name
			d := get(t, ns, name, &appsv1.Deployment{})
			s := get(t, ns, name, &corev1.Service{})
			for _, o := range []client.Object{d, s} {
				wantLabels(t, o, el.Name)
				refs := o.GetOwnerReferences()
				want(t, fmt.Sprintf("%T owner", o), len(refs) == 1 && refs[0].Kind == "EventListener" && refs[0].Name == el.Name &&
					refs[0].UID == el.UID && *refs[0].Controller && *refs[0].BlockOwnerDeletion, true)
			}
			want(t, "selector", fmt.Sprint(d.Spec.Selector.MatchLabels), fmt.Sprint(selector(el.Name)))
			want(t, "service selector", fmt.Sprint(s.Spec.Selector), fmt.Sprint(selector(el.Name)))
			// args and URLs are written with NS for the test's namespace.
			for i, a := range d.Spec.Template.Spec.Containers[0].Args {
				d.Spec.Template.Spec.Containers[0].Args[i] = strings.ReplaceAll(a, ns, "NS")
			}
			tc.check(t, d, s)
			url := strings.ReplaceAll(tc.url, "NS", ns)
			eventually(t, "status", func() error {
				var got triggersv1beta1.EventListener
				if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(el), &got); err != nil {
					return err
				}
				if got.Status.Address == nil || got.Status.Address.URL != url {
					return fmt.Errorf("address %+v, want %s", got.Status.Address, url)
				}
				if got.Status.Configuration.GeneratedResourceName != name {
					return fmt.Errorf("generatedName %q", got.Status.Configuration.GeneratedResourceName)
				}
				return nil
			})
		})
	}
}

// TestStatus follows an EventListener from created to Ready as the Deployment controller would report it.
func TestStatus(t *testing.T) {
	ns := env.Namespace(t)
	start(t, ns)
	el := eventListener(t, ns, `{metadata: {name: github-listener}, spec: {serviceAccountName: sa}}`)
	waitConditions(t, el, "Available=Unknown Deployment=True Ready=False Service=True")
	got := getEL(t, el)
	want(t, "conditions[0] (what tkn shows)", got.Status.Conditions[0].Type, "Available")
	want(t, "ready message", condition(got, "Ready").Message, "Condition Available has status: Unknown with message: the Deployment controller has not reported on el-github-listener yet")

	// The Deployment controller's report, written by hand (envtest runs no controller-manager).
	setDeploymentConditions(t, ns, "el-github-listener",
		appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: "rolled out"},
		appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."})
	waitConditions(t, el, "Available=True Deployment=True Progressing=True Ready=True Service=True")
	got = getEL(t, el)
	want(t, "available reason", condition(got, "Available").Reason, "MinimumReplicasAvailable")
	want(t, "ready message", condition(got, "Ready").Message, "EventListener is ready at http://el-github-listener."+ns+".svc.cluster.local:8080")

	setDeploymentConditions(t, ns, "el-github-listener",
		appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "stuck"},
		appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", Message: "none"})
	waitConditions(t, el, "Available=False Deployment=True Progressing=False Ready=False Service=True")
	want(t, "ready message", condition(getEL(t, el), "Ready").Message, "Condition Progressing has status: False with message: stuck")
}

// TestEditRolls: an edit to the EventListener's Pod shape updates the Deployment's Pod template (a new
// rollout); one that changes nothing of it updates nothing.
func TestEditRolls(t *testing.T) {
	ns := env.Namespace(t)
	start(t, ns)
	el := eventListener(t, ns, `{metadata: {name: edit}, spec: {serviceAccountName: one}}`)
	d := get(t, ns, "el-edit", &appsv1.Deployment{})
	waitConditions(t, el, "Available=Unknown Deployment=True Ready=False Service=True")

	// Status writes and unrelated reconciles must not touch the Deployment.
	rv := d.ResourceVersion
	time.Sleep(time.Second)
	d = get(t, ns, "el-edit", &appsv1.Deployment{})
	want(t, "resourceVersion while nothing changed", d.ResourceVersion, rv)

	// Autoscaler's choice kept while replicas is not asked for; the Deployment controller's revision kept.
	d.Spec.Replicas = ptr(int32(4))
	d.Annotations["deployment.kubernetes.io/revision"] = "1"
	if err := env.Client.Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}

	cur := getEL(t, el)
	cur.Spec.ServiceAccountName = "two"
	cur.Spec.Resources.KubernetesResource = raw(t, `{spec: {spec: {containers: [{env: [{name: LEVEL, value: debug}]}]}}}`)
	if err := env.Client.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deployment updated", func() error {
		d = &appsv1.Deployment{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "el-edit"}, d); err != nil {
			return err
		}
		pod := d.Spec.Template.Spec
		if pod.ServiceAccountName != "two" || envNames(pod.Containers[0].Env) != "NAMESPACE,NAME,LEVEL" {
			return fmt.Errorf("serviceAccountName %q env %s", pod.ServiceAccountName, envNames(pod.Containers[0].Env))
		}
		return nil
	})
	want(t, "replicas kept", *d.Spec.Replicas, int32(4))
	want(t, "revision annotation kept", d.Annotations["deployment.kubernetes.io/revision"], "1")
	if d.Generation < 2 {
		t.Errorf("generation %d: the Pod template change must be a new generation (a rollout)", d.Generation)
	}

	cur = getEL(t, el)
	cur.Spec.Resources.KubernetesResource = raw(t, `{replicas: 2, serviceType: NodePort}`)
	if err := env.Client.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, "service type updated", func() error {
		s := &corev1.Service{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "el-edit"}, s); err != nil {
			return err
		}
		if s.Spec.Type != corev1.ServiceTypeNodePort || s.Spec.Ports[0].NodePort == 0 {
			return fmt.Errorf("type %s nodePort %d", s.Spec.Type, s.Spec.Ports[0].NodePort)
		}
		return nil
	})
	d = get(t, ns, "el-edit", &appsv1.Deployment{})
	want(t, "replicas asked for", *d.Spec.Replicas, int32(2))
}

// TestNotDeployed: shared-listener EventListeners get no Deployment (and lose one they had), their status
// is left to elstatus; customResource and malformed kubernetesResource are refused with a condition; an
// el-NAME someone else owns is not taken over.
func TestNotDeployed(t *testing.T) {
	ns := env.Namespace(t)
	start(t, ns)

	shared := eventListener(t, ns, `{metadata: {name: shared, annotations: {hookrun.dev/listener: shared}}, spec: {}}`)
	knative := eventListener(t, ns, `
metadata: {name: knative}
spec: {resources: {customResource: {apiVersion: serving.knative.dev/v1, kind: Service}}}`)
	waitConditions(t, knative, "Ready=False")
	want(t, "customResource reason", condition(getEL(t, knative), "Ready").Reason, "CustomResourceNotSupported")

	bad := eventListener(t, ns, `{metadata: {name: bad}, spec: {resources: {kubernetesResource: {replicas: many}}}}`)
	waitConditions(t, bad, "Ready=False")
	want(t, "invalid reason", condition(getEL(t, bad), "Ready").Reason, "InvalidKubernetesResource")

	foreign := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "el-taken", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "x", Image: "x"}}}}},
	}
	if err := env.Client.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	taken := eventListener(t, ns, `{metadata: {name: taken}, spec: {}}`)
	waitConditions(t, taken, "Deployment=False Ready=False Service=True")
	want(t, "foreign message", strings.Contains(condition(getEL(t, taken), "Deployment").Message, "not controlled by this EventListener"), true)

	// Give the reconciler time to (wrongly) act on the shared one, then check.
	time.Sleep(time.Second)
	for _, name := range []string{"el-shared", "el-knative", "el-bad"} {
		for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
			err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, o)
			want(t, fmt.Sprintf("%T %s not found", o, name), apierrors.IsNotFound(err), true)
		}
	}
	want(t, "shared status untouched", len(getEL(t, shared).Status.Conditions), 0)

	// Switching a deployed EventListener to the shared listener removes its Deployment and Service.
	moving := eventListener(t, ns, `{metadata: {name: moving}, spec: {}}`)
	get(t, ns, "el-moving", &appsv1.Deployment{})
	get(t, ns, "el-moving", &corev1.Service{})
	cur := getEL(t, moving)
	cur.Annotations = map[string]string{triggersv1beta1.AnnotationListener: triggersv1beta1.ListenerShared}
	if err := env.Client.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Service{}} {
		eventually(t, fmt.Sprintf("%T el-moving deleted", o), func() error {
			err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "el-moving"}, o)
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err == nil && o.GetDeletionTimestamp() != nil {
				return nil // foreground finalizers wait for a garbage collector envtest does not run
			}
			return fmt.Errorf("still there (%v)", err)
		})
	}
}

// helpers

func want[T comparable](t *testing.T, what string, got, wantV T) {
	t.Helper()
	if got != wantV {
		t.Errorf("%s = %v, want %v", what, got, wantV)
	}
}

func wantArgs(t *testing.T, args []string, wantAll ...string) {
	t.Helper()
	for _, w := range wantAll {
		if !slices.Contains(args, w) {
			t.Errorf("args %q lack %q", args, w)
		}
	}
}

func selector(name string) map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": "EventListener", "app.kubernetes.io/part-of": "Triggers", "eventlistener": name}
}

func wantLabels(t *testing.T, o client.Object, name string) {
	t.Helper()
	for k, v := range selector(name) {
		if o.GetLabels()[k] != v {
			t.Errorf("%T label %s = %q, want %q", o, k, o.GetLabels()[k], v)
		}
	}
}

func portsOf(ps []corev1.ContainerPort) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s:%d", p.Name, p.ContainerPort))
	}
	return out
}

func svcPorts(ps []corev1.ServicePort) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s:%d->%s", p.Name, p.Port, p.TargetPort.String()))
	}
	return out
}

func probe(p *corev1.Probe) string {
	if p == nil || p.HTTPGet == nil {
		return "none"
	}
	return fmt.Sprintf("%s %s %s", p.HTTPGet.Scheme, p.HTTPGet.Path, p.HTTPGet.Port.String())
}

func envNames(env []corev1.EnvVar) string {
	var n []string
	for _, e := range env {
		n = append(n, e.Name)
	}
	return strings.Join(n, ",")
}

func getEL(t *testing.T, el *triggersv1beta1.EventListener) *triggersv1beta1.EventListener {
	t.Helper()
	var got triggersv1beta1.EventListener
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(el), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func condition(el *triggersv1beta1.EventListener, typ string) triggersv1beta1.Condition {
	for _, c := range el.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return triggersv1beta1.Condition{}
}

// waitConditions waits until el's conditions, in order, are exactly "Type=Status ...".
func waitConditions(t *testing.T, el *triggersv1beta1.EventListener, wantConds string) {
	t.Helper()
	eventually(t, el.Name+" conditions", func() error {
		var got triggersv1beta1.EventListener
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(el), &got); err != nil {
			return err
		}
		var cs []string
		for _, c := range got.Status.Conditions {
			cs = append(cs, c.Type+"="+c.Status)
		}
		if s := strings.Join(cs, " "); s != wantConds {
			return fmt.Errorf("conditions %q, want %q", s, wantConds)
		}
		return nil
	})
}

func setDeploymentConditions(t *testing.T, ns, name string, conds ...appsv1.DeploymentCondition) {
	t.Helper()
	d := get(t, ns, name, &appsv1.Deployment{})
	now := metav1.Now()
	for i := range conds {
		conds[i].LastUpdateTime, conds[i].LastTransitionTime = now, now
	}
	d.Status.Conditions = conds
	d.Status.ObservedGeneration = d.Generation
	if err := env.Client.Status().Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
}

func raw(t *testing.T, doc string) *runtime.RawExtension {
	t.Helper()
	b, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return &runtime.RawExtension{Raw: b}
}

func ptr[T any](v T) *T { return &v }
