package listener

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves the listener's Prometheus metrics (the same as GET /metrics on the listener's
// address), for a separate metrics port: el-NAME Pods serve it on 9000, as Tekton's do.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}
