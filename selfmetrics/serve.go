package selfmetrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// DefaultAddr is the suggested --metrics-addr: loopback only, so a run never
// exposes anything off the machine unless asked to. An empty address
// disables the endpoint.
const DefaultAddr = "127.0.0.1:9464"

// shutdownGrace bounds how long in-flight scrapes may finish at shutdown.
const shutdownGrace = 2 * time.Second

// Server is a running /metrics endpoint.
type Server struct {
	addr string
	done chan struct{}
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() string { return s.addr }

// Done is closed once the server has shut down after ctx ended.
func (s *Server) Done() <-chan struct{} { return s.done }

// Serve binds addr now (so a busy port is reported to the caller at once)
// and serves reg on /metrics until ctx ends.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, logger *zap.Logger) (*Server, error) {
	if addr == "" {
		return nil, errors.New("metrics address is empty")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for /metrics on %s: %w", addr, err)
	}
	if host, _, err := net.SplitHostPort(ln.Addr().String()); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() {
			logger.Warn("churn /metrics is reachable beyond this machine", zap.String("addr", ln.Addr().String()))
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s := &Server{addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("churn /metrics server stopped", zap.Error(err))
		}
	}()
	go func() {
		<-ctx.Done()
		// The run's context is already cancelled; give scrapes a short grace.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logger.Warn("churn /metrics server shutdown", zap.Error(err))
		}
	}()
	logger.Info("serving churn metrics", zap.String("url", "http://"+s.addr+"/metrics"))
	return s, nil
}
