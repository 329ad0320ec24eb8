//go:build tools

// Package tools pins Traefik (github.com/traefik/traefik/v3), which make e2e-node builds into bin/ as the ingress
// controller that serves deploy/'s Ingress (class nginx) through its Kubernetes Ingress NGINX provider.
package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
