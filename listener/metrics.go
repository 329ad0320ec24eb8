package listener

import (
	gh "github.com/google/go-github/v60/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric label values never come from what a sender says alone: the listener label is the name of an
// EventListener that exists (else otherLabel), the event label one of a fixed set per provider (else
// otherLabel), so the number of series is a function of the configuration, not of the traffic.
const otherLabel = "other"

// gitlabEvents and bitbucketEvents are the event types the providers document (X-Gitlab-Event,
// X-Event-Key for Bitbucket Cloud and Server); GitHub's come from go-github's list of webhook events.
var (
	gitlabEvents = []string{"Push Hook", "Tag Push Hook", "Issue Hook", "Confidential Issue Hook", "Note Hook",
		"Confidential Note Hook", "Merge Request Hook", "Wiki Page Hook", "Pipeline Hook", "Job Hook", "Deployment Hook",
		"Feature Flag Hook", "Release Hook", "Emoji Hook", "Resource Access Token Hook", "Member Hook", "Subgroup Hook",
		"Project Hook", "Vulnerability Hook", "System Hook"}
	bitbucketEvents = []string{
		"repo:push", "repo:fork", "repo:updated", "repo:commit_comment_created", "repo:commit_status_created",
		"repo:commit_status_updated", "issue:created", "issue:updated", "issue:comment_created", "pullrequest:created",
		"pullrequest:updated", "pullrequest:approved", "pullrequest:unapproved", "pullrequest:fulfilled",
		"pullrequest:rejected", "pullrequest:changes_request_created", "pullrequest:changes_request_removed",
		"pullrequest:comment_created", "pullrequest:comment_updated", "pullrequest:comment_deleted",
		"pullrequest:comment_resolved", "pullrequest:comment_reopened",
		"repo:refs_changed", "repo:modified", "repo:forked", "repo:comment:added", "repo:comment:edited",
		"repo:comment:deleted", "pr:opened", "pr:from_ref_updated", "pr:to_ref_updated", "pr:modified",
		"pr:reviewer:updated", "pr:reviewer:approved", "pr:reviewer:unapproved", "pr:reviewer:needs_work",
		"pr:merged", "pr:declined", "pr:deleted", "pr:comment:added", "pr:comment:edited", "pr:comment:deleted",
		"diagnostics:ping", "mirror:repo_synchronized"}
)

// eventLabels is the fixed set of event label values per provider.
type eventLabels map[string]map[string]bool

func newEventLabels() eventLabels {
	set := func(list []string) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, e := range list {
			m[e] = true
		}
		return m
	}
	return eventLabels{"github": set(gh.MessageTypes()), "gitlab": set(gitlabEvents), "bitbucket": set(bitbucketEvents)}
}

// label returns the event label of a delivery: the event type when it is one its provider documents,
// "none" when the sender named none, otherLabel for anything else.
func (l eventLabels) label(provider, event string) string {
	if event == "" {
		return "none"
	}
	if l[provider][event] {
		return event
	}
	return otherLabel
}

// metrics are the listener's Prometheus series, on a registry of its own.
type metrics struct {
	registry         *prometheus.Registry
	events           *prometheus.CounterVec
	outcomes         *prometheus.CounterVec
	interceptorTime  *prometheus.HistogramVec
	resourcesCreated *prometheus.CounterVec
	requestDuration  *prometheus.HistogramVec
	eventLabels      eventLabels
	tekton           tektonMetrics
}

// tektonMetrics are the series a Tekton Triggers sink exports, with Tekton's names, labels and buckets,
// served beside hookrun's so dashboards and alerts written for Tekton keep working.
type tektonMetrics struct {
	events    *prometheus.CounterVec // eventlistener_event_received_total{status="succeeded"|"failed"}
	resources *prometheus.CounterVec // eventlistener_triggered_resources_total{kind}
	duration  prometheus.Histogram   // eventlistener_http_duration_seconds
}

func newTektonMetrics() tektonMetrics {
	return tektonMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventlistener_event_received_total", Help: "number of events received by sink (Tekton Triggers' name)",
		}, []string{"status"}),
		resources: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventlistener_triggered_resources_total", Help: "Count of the number of triggered eventlistener resources (Tekton Triggers' name)",
		}, []string{"kind"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "eventlistener_http_duration_seconds", Help: "The eventlistener HTTP request duration (Tekton Triggers' name)",
			Buckets: []float64{0.001, 0.01, 0.1, 1, 5, 10},
		}),
	}
}

// delivery records one answered delivery in Tekton's series: succeeded when it was answered 2xx.
func (t tektonMetrics) delivery(code int, took float64) {
	status := "failed"
	if code >= 200 && code < 300 {
		status = "succeeded"
	}
	t.events.WithLabelValues(status).Inc()
	t.duration.Observe(took)
}

func newMetrics() *metrics {
	m := &metrics{
		registry:    prometheus.NewRegistry(),
		eventLabels: newEventLabels(),
		tekton:      newTektonMetrics(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookrun_events_total", Help: "Deliveries received, by listener, provider, event type and HTTP status.",
		}, []string{"listener", "provider", "event", "code"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookrun_trigger_outcomes_total", Help: "Trigger outcomes: created, skipped or failed.",
		}, []string{"listener", "trigger", "status"}),
		interceptorTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hookrun_interceptor_duration_seconds", Help: "Time spent in each interceptor chain by first interceptor kind.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"interceptor"}),
		resourcesCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookrun_resources_created_total", Help: "Resources created by triggers, by kind.",
		}, []string{"kind"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hookrun_http_request_duration_seconds", Help: "HTTP request latency by route and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "code"}),
	}
	m.registry.MustRegister(m.events, m.outcomes, m.interceptorTime, m.resourcesCreated, m.requestDuration,
		m.tekton.events, m.tekton.resources, m.tekton.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
