package e2enode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The Ingress case (#16): deploy/'s Ingress `hookrun` (class nginx, /hooks → Service hookrun-listener port
// http), applied as written, served by an ingress controller built here: Traefik (hack/traefik), whose
// Kubernetes Ingress NGINX provider takes the Ingresses of the IngressClass whose controller is
// ingress-nginx's and reads the nginx.ingress.kubernetes.io annotations it knows.
const (
	// ingressClass is what deploy/'s Ingress names; a cluster's own ingress-nginx installs the IngressClass
	// (deploy/ does not ship one), the test creates it when absent.
	ingressClass      = "nginx"
	ingressController = "k8s.io/ingress-nginx"
	ingressName       = "hookrun"
	// ingressStatusIP is the address Traefik publishes in the Ingress's status (it listens there).
	ingressStatusIP = "127.0.0.1"
)

// testIngress: Traefik, a host process with the suite's admin kubeconfig, routes /hooks to the listener's
// Pods (their IPs on the node's CNI bridge, which the host reaches); a signed push through it makes a run
// that Succeeds; the access log shows the POST routed to Service hookrun-listener; the Ingress's status gets
// Traefik's address; a body over 25 MiB is refused (by the listener: see checkIngressBodyLimit).
func (n *node) testIngress(t *testing.T) {
	n.ensureIngressClass(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://%s:%d", ingressStatusIP, port)
	accessLog := filepath.Join(n.run, "logs", "traefik-access.log")
	start := time.Now()
	p := n.startTraefik(t, port, accessLog)
	// Ready once a GET /hooks gets the listener's own answer (405: webhooks are POSTed) through Traefik;
	// before Traefik has the Ingress's route it answers 404 itself.
	if err := waitFor(2*time.Minute, "Traefik routes GET /hooks to the listener", func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("traefik exited:\n%s", p.tail(30))
		}
		return getStatus(base+"/hooks") == http.StatusMethodNotAllowed, nil
	}); err != nil {
		t.Fatalf("%v\ntraefik log:\n%s", err, p.tail(30))
	}
	n.phase("ingress-traefik-ready", start)
	n.checkIngressStatus(t)

	const rev = "fedcba9876543210fedcba9876543210fedcba98"
	res, d := n.pushSucceeds(t, base+"/hooks", rev, "ingress-push-to-succeeded")
	n.logf("signed push through Traefik (Ingress %s/%s, %s/hooks) → PipelineRun %s/%s Succeeded in %.1fs",
		deployNamespace, ingressName, base, res.Namespace, res.Name, d.Seconds())

	pods := n.listenerPodAddrs(t)
	entry := waitAccessLog(t, accessLog, func(e accessEntry) bool {
		return e.method() == http.MethodPost && e.path() == "/hooks" && e.status("DownstreamStatus") == http.StatusAccepted
	})
	if !strings.Contains(entry.str("ServiceName"), "hookrun-listener") || !pods[entry.str("ServiceAddr")] {
		t.Errorf("access log: POST /hooks went to service %q at %q, want Service hookrun-listener's Pods %v",
			entry.str("ServiceName"), entry.str("ServiceAddr"), pods)
	}
	n.logf("Traefik access log: POST /hooks %d, router %s, service %s, Pod %s", entry.status("DownstreamStatus"),
		entry.str("RouterName"), entry.str("ServiceName"), entry.str("ServiceAddr"))
	n.checkIngressBodyLimit(t, base, accessLog)
}

// ensureIngressClass creates the IngressClass nginx (controller k8s.io/ingress-nginx) unless the cluster
// has one, and deletes what it created when the test ends.
func (n *node) ensureIngressClass(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var ic networkingv1.IngressClass
	err := n.client.Get(ctx, client.ObjectKey{Name: ingressClass}, &ic)
	if err == nil {
		if ic.Spec.Controller != ingressController {
			t.Fatalf("IngressClass %s exists with controller %q, want %s", ingressClass, ic.Spec.Controller, ingressController)
		}
		return
	}
	if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	ic = networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: ingressClass},
		Spec:       networkingv1.IngressClassSpec{Controller: ingressController},
	}
	if err := n.client.Create(ctx, &ic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.client.Delete(context.Background(), &ic); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete IngressClass %s: %v", ingressClass, err)
		}
	})
}

// startTraefik starts bin/traefik on 127.0.0.1:port with only the Kubernetes Ingress NGINX provider, reading
// the cluster through the suite's admin kubeconfig (KUBECONFIG), and stops it when the test ends. Its log
// is run/logs/traefik.log, its access log (JSON) accessLog.
func (n *node) startTraefik(t *testing.T, port int, accessLog string) *proc {
	t.Helper()
	p, err := n.startProcEnv("traefik", []string{"KUBECONFIG=" + n.kubeconfig}, filepath.Join(n.bin, "traefik"),
		fmt.Sprintf("--entrypoints.web.address=%s:%d", ingressStatusIP, port),
		"--providers.kubernetesingressnginx=true",
		"--providers.kubernetesingressnginx.ingressclass="+ingressClass,
		"--providers.kubernetesingressnginx.controllerclass="+ingressController,
		"--providers.kubernetesingressnginx.publishstatusaddress="+ingressStatusIP,
		"--accesslog=true",
		"--accesslog.filepath="+accessLog,
		"--accesslog.format=json",
		"--log.level=INFO",
		"--log.nocolor=true",
		"--global.checknewversion=false",
		"--global.sendanonymoususage=false")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(10 * time.Second) })
	return p
}

// getStatus is the status of a GET, 0 when it fails.
func getStatus(url string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkIngressStatus waits for Traefik to publish its address in the Ingress's status.loadBalancer.
func (n *node) checkIngressStatus(t *testing.T) {
	t.Helper()
	var ing networkingv1.Ingress
	if err := waitFor(60*time.Second, "Ingress status.loadBalancer.ingress "+ingressStatusIP, func() (bool, error) {
		if err := n.client.Get(context.Background(), clientKey(deployNamespace, ingressName), &ing); err != nil {
			return false, err
		}
		lb := ing.Status.LoadBalancer.Ingress
		return len(lb) == 1 && lb[0].IP == ingressStatusIP, nil
	}); err != nil {
		t.Errorf("%v: status %s", err, statusJSON(ing.Status))
		return
	}
	n.logf("Ingress %s/%s (class %s): status.loadBalancer.ingress %s", deployNamespace, ingressName,
		ingressClass, statusJSON(ing.Status.LoadBalancer.Ingress))
}

// listenerPodAddrs are the IP:8080 addresses of the listener's Pods (the Service's endpoints).
func (n *node) listenerPodAddrs(t *testing.T) map[string]bool {
	t.Helper()
	var pods corev1.PodList
	if err := n.client.List(context.Background(), &pods, client.InNamespace(deployNamespace),
		client.MatchingLabels{"app.kubernetes.io/name": "hookrun-listener"}); err != nil {
		t.Fatal(err)
	}
	addrs := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.PodIP != "" {
			addrs[net.JoinHostPort(p.Status.PodIP, "8080")] = true
		}
	}
	return addrs
}

// checkIngressBodyLimit: the Ingress asks for proxy-body-size: 25m. Traefik's Ingress NGINX provider
// (v3.6.12) does not read that annotation and sets no body limit of its own; the listener's --max-body
// (25 MiB, GitHub's cap) refuses a larger body, and Traefik passes its 413 on (the access log's
// OriginStatus is the listener's answer).
func (n *node) checkIngressBodyLimit(t *testing.T, base, accessLog string) {
	t.Helper()
	const limit = 25 << 20
	body := bytes.Repeat([]byte(" "), limit+1)
	req, err := http.NewRequest(http.MethodPost, base+"/hooks", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "e2e-ingress-oversize")
	c := http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %d bytes through Traefik: %v", len(body), err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(data), "--max-body") {
		t.Errorf("POST of 25 MiB + 1 byte through Traefik: HTTP %d %s, want the listener's 413 (--max-body)", resp.StatusCode, data)
	}
	entry := waitAccessLog(t, accessLog, func(e accessEntry) bool {
		return e.method() == http.MethodPost && e.path() == "/hooks" && e.status("DownstreamStatus") == http.StatusRequestEntityTooLarge
	})
	if entry.status("OriginStatus") != http.StatusRequestEntityTooLarge || !strings.Contains(entry.str("ServiceName"), "hookrun-listener") {
		t.Errorf("access log for the oversize POST: origin status %d from %q, want 413 from hookrun-listener",
			entry.status("OriginStatus"), entry.str("ServiceName"))
	}
	n.logf("proxy-body-size: 25m is not read by Traefik's Ingress NGINX provider (no limit of its own); a body of "+
		"25 MiB + 1 byte reaches the listener, whose --max-body answers 413 (access log origin status %d)", entry.status("OriginStatus"))
}

// accessEntry is one line of Traefik's JSON access log.
type accessEntry map[string]any

func (e accessEntry) str(k string) string {
	s, _ := e[k].(string)
	return s
}

func (e accessEntry) status(k string) int {
	f, _ := e[k].(float64)
	return int(f)
}

func (e accessEntry) method() string { return e.str("RequestMethod") }
func (e accessEntry) path() string   { return e.str("RequestPath") }

// waitAccessLog waits for an access-log entry that match accepts (Traefik writes an entry once the
// response is done) and returns the last such entry.
func waitAccessLog(t *testing.T, path string, match func(accessEntry) bool) accessEntry {
	t.Helper()
	var found accessEntry
	err := waitFor(20*time.Second, "an entry in "+path, func() (bool, error) {
		f, err := os.Open(path)
		if err != nil {
			return false, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e accessEntry
			if json.Unmarshal(sc.Bytes(), &e) == nil && match(e) {
				found = e
			}
		}
		return found != nil, sc.Err()
	})
	if err != nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("%v\naccess log:\n%s", err, tailLines(string(data), 20))
	}
	return found
}
