package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	healthPollInterval = 250 * time.Millisecond
	healthReqTimeout   = 3 * time.Second
	logTailLines       = 20
)

// healthClient trusts the cluster CA and presents the admin certificate
// (kube-apiserver's /readyz wants an authenticated user once anonymous
// access is restricted; the others accept it and ignore it).
func healthClient(b *pkiBundle) (*http.Client, error) {
	pool := x509.NewCertPool()
	pool.AddCert(b.caCert)
	admin := b.leaves[certAdmin]
	cert, err := tls.X509KeyPair(admin.cert, admin.key)
	if err != nil {
		return nil, fmt.Errorf("loading admin client certificate: %w", err)
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		// Health checks must never go through a proxy from the environment.
		Proxy:             nil,
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr, Timeout: healthReqTimeout}, nil
}

// waitHealthy polls pr's health URL until it answers 200, the process exits,
// the component's timeout passes or ctx ends.
func waitHealthy(ctx context.Context, client *http.Client, pr *proc) error {
	comp := pr.comp
	ctx, cancel := context.WithTimeout(ctx, comp.healthTimeout)
	defer cancel()
	tick := time.NewTicker(healthPollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		if lastErr = probe(ctx, client, comp); lastErr == nil {
			return nil
		}
		select {
		case <-pr.exited:
			return earlyExitError(pr)
		case <-ctx.Done():
			if pr.hasExited() {
				return earlyExitError(pr)
			}
			return fmt.Errorf("%s (pid %d) not healthy at %s after %s: %v (%w); last %d lines of %s:\n%s",
				comp.name, pr.pid, comp.healthURL, time.Since(pr.startedAt).Round(time.Second), lastErr,
				ctx.Err(), logTailLines, pr.logPath, tailLines(pr.logPath, logTailLines))
		case <-tick.C:
		}
	}
}

func earlyExitError(pr *proc) error {
	return fmt.Errorf("%s (pid %d) exited during startup (%s); last %d lines of %s:\n%s",
		pr.comp.name, pr.pid, describeExit(pr), logTailLines, pr.logPath, tailLines(pr.logPath, logTailLines))
}

func probe(ctx context.Context, client *http.Client, comp component) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, comp.healthURL, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	// etcd answers 200 with {"health":"false"} while it has no leader.
	if comp.name == Etcd && !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("etcd not healthy: %s", strings.TrimSpace(string(body)))
	}
	return nil
}
