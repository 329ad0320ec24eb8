package listener

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the listener's Prometheus series, on a registry of its own.
type metrics struct {
	registry         *prometheus.Registry
	events           *prometheus.CounterVec
	outcomes         *prometheus.CounterVec
	interceptorTime  *prometheus.HistogramVec
	resourcesCreated *prometheus.CounterVec
	requestDuration  *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
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
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
