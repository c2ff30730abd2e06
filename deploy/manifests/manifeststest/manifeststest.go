// Package manifeststest helps integration tests act as a ServiceAccount of
// the manifests under deploy/, with the credentials a pod running as it
// would get, and see every request the API server refused it, so they
// prove its RBAC is enough.
package manifeststest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"unicode/utf8"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// tokenSeconds is the lifetime of the tokens: longer than any test.
const tokenSeconds = 2 * 60 * 60

// ServiceAccountConfig returns a config for admin's server that
// authenticates as the ServiceAccount namespace/name, with a token from
// the TokenRequest API.
func ServiceAccountConfig(ctx context.Context, admin *rest.Config, namespace, name string) (*rest.Config, error) {
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(tokenSeconds))}}
	tok, err := client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = tok.Status.Token
	return cfg, nil
}

// WriteKubeconfig writes cfg's server, CA and bearer token as a kubeconfig.
func WriteKubeconfig(path string, cfg *rest.Config) error {
	ca := cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return fmt.Errorf("read CA: %w", err)
		}
		ca = b
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cluster"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: ca}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "user"}
	kc.CurrentContext = "default"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// DenialProxy sits between a client and the API server and records every
// request the API server's authorizer refused. It tells a missing right
// apart from other 403s, such as writes into a namespace being deleted,
// which controllers meet at every teardown; components that count failed
// calls without saying why (observers, emulated agents, kwok) show a
// missing right here.
type DenialProxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	// denials are "METHOD path: message", in order.
	denials []string
}

// NewDenialProxy starts a proxy to upstream's server. It forwards each
// request's own credentials (and impersonation headers) unchanged.
func NewDenialProxy(upstream *rest.Config) (*DenialProxy, error) {
	u, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", upstream.Host, err)
	}
	tr, err := rest.TransportFor(rest.AnonymousClientConfig(upstream))
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	p := &DenialProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	rp.FlushInterval = -1 // watches stream
	rp.ModifyResponse = p.inspect
	p.srv = httptest.NewUnstartedServer(rp)
	p.srv.EnableHTTP2 = true
	p.srv.StartTLS()
	return p, nil
}

// Config is a config for the proxy that authenticates with token.
func (p *DenialProxy) Config(token string) *rest.Config {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	return &rest.Config{Host: p.srv.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
}

// Denials returns the refused requests so far.
func (p *DenialProxy) Denials() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.denials...)
}

// Close stops the proxy.
func (p *DenialProxy) Close() { p.srv.Close() }

func (p *DenialProxy) inspect(resp *http.Response) error {
	if resp.StatusCode != http.StatusForbidden {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return err
	}
	// The authorizer's refusals name the user and what it cannot do;
	// admission's (a namespace being deleted) do not. The body may be JSON
	// or protobuf: the message is plain text in both.
	msg := string(b)
	var status metav1.Status
	if json.Unmarshal(b, &status) == nil && status.Message != "" {
		msg = status.Message
	}
	i := strings.Index(msg, "User \"")
	if i < 0 || !strings.Contains(msg[i:], " cannot ") {
		return nil
	}
	// From the user to the end of the text (protobuf framing follows).
	msg = msg[i:]
	if end := strings.IndexFunc(msg, func(r rune) bool { return r < 0x20 || r == utf8.RuneError }); end >= 0 {
		msg = msg[:end]
	}
	p.mu.Lock()
	p.denials = append(p.denials, resp.Request.Method+" "+resp.Request.URL.Path+": "+msg)
	p.mu.Unlock()
	return nil
}
