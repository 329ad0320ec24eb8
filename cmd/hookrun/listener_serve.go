package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hookrun/hookrun/listener"
)

// serveListener runs srv on addr until ctx ends: plain HTTP, or HTTPS when cert and key are given (an
// EventListener's TLS_CERT and TLS_KEY, mounted by the reconciler).
func serveListener(ctx context.Context, srv *listener.Server, addr, cert, key string) error {
	if cert == "" && key == "" {
		return srv.Start(ctx)
	}
	if cert == "" || key == "" {
		return errors.New("--tls-cert and --tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return fmt.Errorf("listener TLS: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return srv.Serve(ctx, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}))
}

// serveMetrics serves h at /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("metrics shutdown: %w", err)
	}
	return nil
}
