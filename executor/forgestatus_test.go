package executor_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor"
	"github.com/hookrun/hookrun/executor/internal/kubelettest"
	"github.com/hookrun/hookrun/forge"
	"github.com/hookrun/hookrun/forge/forgetest"
)

const (
	forgeToken = "s3cr3t-forge-token-value"
	forgeSHA   = "9fceb02d0ae598e95dc970b74767f19372d61af8"
	dashURL    = "http://dashboard.example"
)

// forgeRepo is the repository annotation per provider (GitLab: a project path, sent as group%2Fproject).
var forgeRepo = map[string]string{forge.GitHub: "octo/hello", forge.GitLab: "group/hello"}

// startForgeExecutor starts the executor with the forge status reporter retrying fast (50 ms … retryMax).
func startForgeExecutor(t *testing.T, ns string, retryInitial time.Duration, mutate ...func(*executor.Options)) (stop func()) {
	t.Helper()
	return startExecutor(t, ns, append([]func(*executor.Options){func(o *executor.Options) {
		o.ForgeStatus = executor.ForgeStatusOptions{DashboardURL: dashURL, RetryInitial: retryInitial,
			RetryMax: max(retryInitial, 500*time.Millisecond), HTTPClient: &http.Client{Timeout: 2 * time.Second}}
	}}, mutate...)...)
}

func tokenSecret(t *testing.T, ns, token string) {
	t.Helper()
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "forge-token", Namespace: ns}, StringData: map[string]string{"token": token + "\n"}}
	if err := env.Client.Create(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
}

const oneTaskPipeline = `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: build
spec:
  tasks:
    - name: unit-test
      taskRef: {name: echo}
`

// statusRun is a PipelineRun of pipeline "build" opted in to statuses on provider at api.
func statusRun(name, provider, api string, extra ...string) string {
	ann := map[string]string{
		forge.AnnotationStatus: provider, forge.AnnotationSecret: "forge-token", forge.AnnotationRepo: forgeRepo[provider],
		forge.AnnotationSHA: forgeSHA, forge.AnnotationAPI: api, forge.AnnotationRef: "main",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		ann[extra[i]] = extra[i+1]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: %s\n  annotations:\n", name)
	for k, v := range ann {
		fmt.Fprintf(&b, "    %s: %q\n", k, v)
	}
	b.WriteString("spec:\n  pipelineRef: {name: build}\n")
	return b.String()
}

func apiOf(srv *forgetest.Server, provider string) string {
	if provider == forge.GitHub {
		return srv.GitHubAPI()
	}
	return srv.GitLabAPI()
}

// waitStatuses waits until the commit has n statuses applied and returns them.
func waitStatuses(t *testing.T, srv *forgetest.Server, provider string, n int, timeout time.Duration) []forgetest.Request {
	t.Helper()
	var got []forgetest.Request
	eventually(t, timeout, fmt.Sprintf("%d %s statuses", n, provider), func() (bool, error) {
		got = srv.Statuses(provider, forgeRepo[provider], forgeSHA)
		return len(got) >= n, fmt.Errorf("statuses %+v; requests %+v", got, srv.Requests())
	})
	return got
}

func states(rs []forgetest.Request) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.State)
	}
	return strings.Join(s, ",")
}

func posts(rs []forgetest.Request) (n int) {
	for _, r := range rs {
		if r.Method == http.MethodPost {
			n++
		}
	}
	return n
}

// settle waits a little and checks nothing more reaches the forge.
func settle(t *testing.T, srv *forgetest.Server, what string) {
	t.Helper()
	before := len(srv.Requests())
	time.Sleep(time.Second)
	if after := srv.Requests(); len(after) != before {
		t.Errorf("%s: %d more requests after the end: %+v", what, len(after)-before, after[before:])
	}
}

func TestForgeStatusOutcomes(t *testing.T) {
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	tests := []struct {
		name     string
		provider string
		end      func(t *testing.T, ns string)
		want     string // provider states applied, in order
		desc     string // final description contains
	}{
		{"github success", forge.GitHub, func(t *testing.T, ns string) { finishTask(t, ns, "r-unit-test", nil) },
			"pending,success", "r succeeded in "},
		{"gitlab success", forge.GitLab, func(t *testing.T, ns string) { finishTask(t, ns, "r-unit-test", nil) },
			"running,success", "r succeeded in "},
		{"github failing task", forge.GitHub, func(t *testing.T, ns string) {
			finishTask(t, ns, "r-unit-test", map[string]kubelettest.Outcome{"step-echo": kubelettest.Wrapped(3, nil, false)})
		}, "pending,failure", "r failed after "},
		{"gitlab failing task", forge.GitLab, func(t *testing.T, ns string) {
			finishTask(t, ns, "r-unit-test", map[string]kubelettest.Outcome{"step-echo": kubelettest.Wrapped(3, nil, false)})
		}, "running,failed", ": task unit-test failed"},
		{"github cancelled", forge.GitHub, func(t *testing.T, ns string) {
			patchPipelineRunStatus(t, ns, "r", pipelinev1.PipelineRunSpecStatusCancelled)
		}, "pending,error", "r was cancelled after "},
		{"gitlab cancelled", forge.GitLab, func(t *testing.T, ns string) {
			patchPipelineRunStatus(t, ns, "r", pipelinev1.PipelineRunSpecStatusCancelled)
		}, "running,canceled", "r was cancelled after "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			tokenSecret(t, ns, forgeToken)
			startForgeExecutor(t, ns, 50*time.Millisecond)
			before := len(srv.Statuses(tc.provider, forgeRepo[tc.provider], forgeSHA))
			reqBefore := len(srv.Requests())
			apply(t, ns, echoTask+"---\n"+oneTaskPipeline+"---\n"+statusRun("r", tc.provider, apiOf(srv, tc.provider)))
			// The start status arrives while the run is running, before it ends.
			first := waitStatuses(t, srv, tc.provider, before+1, 15*time.Second)[before]
			if c := getPipelineRun(t, ns, "r").Status.GetCondition(pipelinev1.ConditionSucceeded); c == nil || c.Status != corev1.ConditionUnknown {
				t.Errorf("start status before the run started or after it ended: %+v", c)
			}
			if first.Description != "r is running" {
				t.Errorf("start description %q", first.Description)
			}
			tc.end(t, ns)
			got := waitStatuses(t, srv, tc.provider, before+2, 15*time.Second)[before:]
			if s := states(got); s != tc.want {
				t.Fatalf("states %s, want %s", s, tc.want)
			}
			for _, g := range got {
				if g.Context != "hookrun/build" || g.SHA != forgeSHA || g.TargetURL != dashURL+"/runs/"+ns+"/pipelineruns/r" ||
					g.Repo != forgeRepo[tc.provider] {
					t.Errorf("status %+v: want context hookrun/build, sha, dashboard link", g)
				}
				if tc.provider == forge.GitLab && g.Ref != "main" {
					t.Errorf("gitlab ref %q", g.Ref)
				}
			}
			if !strings.Contains(got[1].Description, tc.desc) {
				t.Errorf("final description %q, want %q in it", got[1].Description, tc.desc)
			}
			settle(t, srv, tc.name)
			if n := posts(srv.Requests()[reqBefore:]); n != 2 {
				t.Errorf("%d POSTs, want 2", n)
			}
			pr := getPipelineRun(t, ns, "r")
			wantRec := "running," + string(map[string]forge.State{"success": forge.StateSuccess, "failure": forge.StateFailure,
				"failed": forge.StateFailure, "error": forge.StateCancelled, "canceled": forge.StateCancelled}[got[1].State])
			if rec := pr.Annotations[forge.AnnotationReported]; rec != wantRec {
				t.Errorf("%s = %q, want %q", forge.AnnotationReported, rec, wantRec)
			}
			if v, ok := pr.Annotations[forge.AnnotationReporting]; ok {
				t.Errorf("%s left: %q", forge.AnnotationReporting, v)
			}
		})
	}
}

// A run queued behind another (max-concurrent-runs 1) is "pending" on GitLab, then "running".
func TestForgeStatusQueuedGitLab(t *testing.T) {
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	ns := newNamespace(t)
	tokenSecret(t, ns, forgeToken)
	startForgeExecutor(t, ns, 50*time.Millisecond, func(o *executor.Options) { o.MaxConcurrentRuns = 1 })
	apply(t, ns, echoTask+"---\n"+oneTaskPipeline+"---\napiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: first\nspec:\n  pipelineRef: {name: build}\n")
	waitPod(t, ns, "first-unit-test-pod")
	apply(t, ns, statusRun("r", forge.GitLab, srv.GitLabAPI()))
	waitStatuses(t, srv, forge.GitLab, 1, 15*time.Second)
	finishTask(t, ns, "first-unit-test", nil)
	finishTask(t, ns, "r-unit-test", nil)
	got := waitStatuses(t, srv, forge.GitLab, 3, 15*time.Second)
	if s := states(got); s != "pending,running,success" {
		t.Fatalf("states %s", s)
	}
	if got[0].Description != "r is queued" {
		t.Errorf("pending description %q", got[0].Description)
	}
}

// The forge is unreachable (connections dropped) from before the run ends for downFor; the final status
// arrives once it is back, exactly once. The figure is 30 s; 3 s here keeps the test short (the
// mechanism is the same: backoff 50 ms doubling to 500 ms).
func TestForgeStatusForgeDown(t *testing.T) {
	const downFor = 3 * time.Second
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	ns := newNamespace(t)
	tokenSecret(t, ns, forgeToken)
	startForgeExecutor(t, ns, 50*time.Millisecond)
	apply(t, ns, echoTask+"---\n"+oneTaskPipeline+"---\n"+statusRun("r", forge.GitHub, srv.GitHubAPI()))
	waitStatuses(t, srv, forge.GitHub, 1, 15*time.Second)
	srv.SetFault(&forgetest.Fault{Drop: true})
	downAt := time.Now()
	finishTask(t, ns, "r-unit-test", nil)
	waitPipelineRunReason(t, ns, "r", "Succeeded")
	eventually(t, 5*time.Second, "the reason on the run", func() (bool, error) {
		v := getPipelineRun(t, ns, "r").Annotations[forge.AnnotationError]
		return strings.Contains(v, "success: GitHub unreachable"), fmt.Errorf("%s = %q", forge.AnnotationError, v)
	})
	time.Sleep(downFor - time.Since(downAt))
	srv.SetFault(nil)
	upAt := time.Now()
	got := waitStatuses(t, srv, forge.GitHub, 2, 10*time.Second)
	t.Logf("final status %s after the forge came back", got[1].At.Sub(upAt).Round(time.Millisecond))
	settle(t, srv, "after recovery")
	if s := states(srv.Statuses(forge.GitHub, forgeRepo[forge.GitHub], forgeSHA)); s != "pending,success" {
		t.Fatalf("statuses %s, want pending,success (the final one exactly once)", s)
	}
	var dropped int
	for _, r := range srv.Requests() {
		if r.Code == 0 {
			dropped++
		}
	}
	// Backoff 50 ms doubling to 500 ms over 3 s: about 9 attempts; a retry storm would be hundreds.
	if dropped < 2 || dropped > 15 {
		t.Errorf("%d attempts while down, want a handful", dropped)
	}
	pr := getPipelineRun(t, ns, "r")
	if _, ok := pr.Annotations[forge.AnnotationError]; ok || pr.Annotations[forge.AnnotationReported] != "running,success" {
		t.Errorf("annotations after recovery: %v", pr.Annotations)
	}
}

// The executor stops for good between the run's end and the report (as a SIGKILL would leave it: a long
// backoff holds the retry so nothing is in flight at the stop), in both windows: the forge never got the
// status, or it applied it and the answer was lost. A new executor reports it exactly once.
func TestForgeStatusExecutorKilledBeforeReport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault forgetest.Fault
	}{
		{"forge never got it", forgetest.Fault{Code: http.StatusServiceUnavailable, States: []string{"success"}}},
		{"answer lost after apply", forgetest.Fault{LoseAnswer: true, States: []string{"success"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := forgetest.NewServer(forgeToken)
			defer srv.Close()
			ns := newNamespace(t)
			tokenSecret(t, ns, forgeToken)
			stop := startForgeExecutor(t, ns, time.Hour)
			apply(t, ns, echoTask+"---\n"+oneTaskPipeline+"---\n"+statusRun("r", forge.GitHub, srv.GitHubAPI()))
			waitStatuses(t, srv, forge.GitHub, 1, 15*time.Second)
			srv.SetFault(&tc.fault)
			finishTask(t, ns, "r-unit-test", nil)
			eventually(t, 10*time.Second, "the success attempt", func() (bool, error) {
				for _, r := range srv.Requests() {
					if r.State == "success" {
						return true, nil
					}
				}
				return false, nil
			})
			eventually(t, 5*time.Second, "the attempt recorded as in doubt", func() (bool, error) {
				a := getPipelineRun(t, ns, "r").Annotations
				return a[forge.AnnotationReporting] == "success" && a[forge.AnnotationError] != "", fmt.Errorf("%v", a)
			})
			stop()
			srv.SetFault(nil)
			mark := len(srv.Requests())
			startForgeExecutor(t, ns, 50*time.Millisecond)
			eventually(t, 10*time.Second, "reported after restart", func() (bool, error) {
				a := getPipelineRun(t, ns, "r").Annotations
				return a[forge.AnnotationReported] == "running,success", fmt.Errorf("%v", a)
			})
			settle(t, srv, "after restart")
			if s := states(srv.Statuses(forge.GitHub, forgeRepo[forge.GitHub], forgeSHA)); s != "pending,success" {
				t.Fatalf("statuses %s, want pending,success", s)
			}
			after := srv.Requests()[mark:]
			// The new executor asks first (GET), and posts only if the forge does not have it.
			wantPosts := map[bool]int{true: 0, false: 1}[tc.fault.LoseAnswer]
			if len(after) == 0 || after[0].Method != http.MethodGet || posts(after) != wantPosts {
				t.Errorf("requests after restart %+v: want a GET then %d POST", after, wantPosts)
			}
		})
	}
}

// A wrong token: the run says why (annotation and Event), one request per state, no retries.
func TestForgeStatusWrongToken(t *testing.T) {
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	const wrong = "wrong-token-do-not-log"
	for _, provider := range []string{forge.GitHub, forge.GitLab} {
		t.Run(provider, func(t *testing.T) {
			ns := newNamespace(t)
			tokenSecret(t, ns, wrong)
			startForgeExecutor(t, ns, 50*time.Millisecond)
			mark := len(srv.Requests())
			apply(t, ns, echoTask+"---\n"+oneTaskPipeline+"---\n"+statusRun("r", provider, apiOf(srv, provider)))
			waitPod(t, ns, "r-unit-test-pod")
			finishTask(t, ns, "r-unit-test", nil)
			waitPipelineRunReason(t, ns, "r", "Succeeded")
			eventually(t, 10*time.Second, "both states given up", func() (bool, error) {
				a := getPipelineRun(t, ns, "r").Annotations
				return a[forge.AnnotationFailed] == "running,success", fmt.Errorf("%v", a)
			})
			settle(t, srv, "wrong token")
			reqs := srv.Requests()[mark:]
			if len(reqs) != 2 {
				t.Errorf("%d requests, want 2 (one per state, no retries): %+v", len(reqs), reqs)
			}
			a := getPipelineRun(t, ns, "r").Annotations
			if e := a[forge.AnnotationError]; !strings.Contains(e, "success:") || !strings.Contains(e, "401") || !strings.Contains(e, "not retried") {
				t.Errorf("%s = %q", forge.AnnotationError, e)
			}
			var evs corev1.EventList
			if err := env.Client.List(context.Background(), &evs, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, ev := range evs.Items {
				if ev.Reason == executor.ReasonStatusNotReported && ev.InvolvedObject.Name == "r" {
					found = append(found, ev.Message)
				}
				if strings.Contains(ev.Message, wrong) {
					t.Errorf("token in Event %q", ev.Message)
				}
			}
			if len(found) != 2 || !strings.Contains(strings.Join(found, "\n"), "401") {
				t.Errorf("StatusNotReported Events %q, want 2 naming the 401", found)
			}
			for k, v := range a {
				if strings.Contains(v, wrong) {
					t.Errorf("token in annotation %s", k)
				}
			}
		})
	}
}

// Annotations that cannot work (missing Secret, unknown provider) are said once on the run, and nothing
// reaches the forge.
func TestForgeStatusBadConfiguration(t *testing.T) {
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	tests := []struct {
		name  string
		run   string
		want  string
		field string
	}{
		{"missing secret", statusRun("r", forge.GitHub, srv.GitHubAPI(), forge.AnnotationSecret, "nope"),
			`running: Secret NS/nope (hookrun.dev/status-secret) not found`, forge.AnnotationError},
		{"unknown provider", statusRun("r", forge.GitHub, srv.GitHubAPI(), forge.AnnotationStatus, "bitbucket"),
			`status not reported: hookrun.dev/status: unknown provider "bitbucket"`, forge.AnnotationError},
		{"wrong secret key", statusRun("r", forge.GitHub, srv.GitHubAPI(), forge.AnnotationSecretKey, "pat"),
			`running: Secret NS/forge-token has no key "pat"`, forge.AnnotationError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			tokenSecret(t, ns, forgeToken)
			startForgeExecutor(t, ns, 50*time.Millisecond)
			mark := len(srv.Requests())
			apply(t, ns, echoTask+"---\n"+oneTaskPipeline+"---\n"+tc.run)
			want := strings.ReplaceAll(tc.want, "NS", ns)
			eventually(t, 10*time.Second, "the reason on the run", func() (bool, error) {
				v := getPipelineRun(t, ns, "r").Annotations[tc.field]
				return strings.HasPrefix(v, want), fmt.Errorf("%s = %q", tc.field, v)
			})
			if n := len(srv.Requests()) - mark; n != 0 {
				t.Errorf("%d requests reached the forge", n)
			}
		})
	}
}

// A forge that answers 429 with Retry-After (or 403 with an exhausted rate limit) is not asked again
// before the time it gave, though the backoff alone would retry after 50 ms.
func TestForgeStatusRespectsRetryAfter(t *testing.T) {
	srv := forgetest.NewServer(forgeToken)
	defer srv.Close()
	tests := []struct {
		name  string
		fault forgetest.Fault
		wait  time.Duration
	}{
		{"429 Retry-After", forgetest.Fault{Code: http.StatusTooManyRequests, RetryAfter: "2", States: []string{"success"}}, 2 * time.Second},
		// The reset is set 3 s ahead when the fault is switched on (below); whole seconds, so ≥ 2 s.
		{"403 rate limit reset", forgetest.Fault{Code: http.StatusForbidden, States: []string{"success"}}, 1500 * time.Millisecond},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			tokenSecret(t, ns, forgeToken)
			startForgeExecutor(t, ns, 50*time.Millisecond)
			run := fmt.Sprintf("r%d", i)
			apply(t, ns, echoTask+"---\n"+oneTaskPipeline+"---\n"+statusRun(run, forge.GitHub, srv.GitHubAPI(), forge.AnnotationSHA, forgeSHA[:39]+fmt.Sprint(i)))
			sha := forgeSHA[:39] + fmt.Sprint(i)
			eventually(t, 15*time.Second, "start status", func() (bool, error) {
				return len(srv.Statuses(forge.GitHub, forgeRepo[forge.GitHub], sha)) == 1, nil
			})
			f := tc.fault
			if f.Code == http.StatusForbidden {
				f.RateLimitReset = time.Now().Add(3 * time.Second)
			}
			srv.SetFault(&f)
			defer srv.SetFault(nil)
			finishTask(t, ns, run+"-unit-test", nil)
			var attempts []forgetest.Request
			eventually(t, 15*time.Second, "two success attempts", func() (bool, error) {
				attempts = nil
				for _, r := range srv.Requests() {
					if r.SHA == sha && (r.State == "success" || r.Method == http.MethodGet) {
						attempts = append(attempts, r)
					}
				}
				return len(attempts) >= 2, nil
			})
			if gap := attempts[1].At.Sub(attempts[0].At); gap < tc.wait {
				t.Errorf("second attempt %s after the first, want ≥ %s", gap.Round(time.Millisecond), tc.wait)
			}
		})
	}
}
