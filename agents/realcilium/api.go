package realcilium

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient speaks the cilium-agent REST API (api/v1/openapi.yaml of the
// pinned release) over the agent's unix socket: the calls cilium-cni makes
// for a pod's ADD and DEL, and the readiness probe.
type apiClient struct {
	http *http.Client
}

func newAPIClient(socket string) *apiClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 4,
	}
	// The agent builds an endpoint synchronously (sync-build-endpoint), as
	// for cilium-cni; a minute covers a busy machine.
	return &apiClient{http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// the API's paths live under this prefix; the host part is ignored.
const apiBase = "http://cilium/v1"

// endpointRequest is models.EndpointChangeRequest: what cilium-cni sends
// for a new pod (plugins/cilium-cni/cmd), with the datapath fields of a
// veth that does not exist.
type endpointRequest struct {
	Addressing struct {
		IPv4 string `json:"ipv4,omitempty"`
	} `json:"addressing"`
	ContainerID           string         `json:"container-id"`
	ContainerName         string         `json:"container-name,omitempty"`
	DatapathConfiguration map[string]any `json:"datapath-configuration,omitempty"`
	InterfaceName         string         `json:"interface-name"`
	K8sNamespace          string         `json:"k8s-namespace"`
	K8sPodName            string         `json:"k8s-pod-name"`
	K8sUID                string         `json:"k8s-uid,omitempty"`
	State                 string         `json:"state"`
	SyncBuildEndpoint     bool           `json:"sync-build-endpoint"`
}

// ipamResponse is the part of models.IPAMResponse cilium-cni uses.
type ipamResponse struct {
	Address struct {
		IPv4     string `json:"ipv4"`
		IPv4Pool string `json:"ipv4-pool-name"`
	} `json:"address"`
}

// ready reports whether the agent serves its API with its
// daemon initialised (GET /config answers 200 once it is).
func (a *apiClient) ready(ctx context.Context) bool {
	code, _, err := a.do(ctx, http.MethodGet, "/config", nil)
	return err == nil && code == http.StatusOK
}

// allocateIP is POST /ipam: an IPv4 address for owner ("namespace/pod"),
// released by the agent unless an endpoint claims it in time, as
// cilium-cni asks; and the pool it came from.
func (a *apiClient) allocateIP(ctx context.Context, owner string) (ip, pool string, err error) {
	q := url.Values{"family": {"ipv4"}, "owner": {owner}, "expiration": {"true"}}
	code, body, err := a.do(ctx, http.MethodPost, "/ipam?"+q.Encode(), nil)
	if err != nil {
		return "", "", err
	}
	if code != http.StatusCreated && code != http.StatusOK {
		return "", "", apiError("POST /ipam", code, body)
	}
	var r ipamResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Address.IPv4 == "" {
		return "", "", fmt.Errorf("POST /ipam: no IPv4 address in %q", truncate(body))
	}
	return r.Address.IPv4, r.Address.IPv4Pool, nil
}

// releaseIP is DELETE /ipam/{ip} from its pool.
func (a *apiClient) releaseIP(ctx context.Context, ip, pool string) error {
	q := url.Values{"pool": {pool}}
	code, body, err := a.do(ctx, http.MethodDelete, "/ipam/"+url.PathEscape(ip)+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK && code != http.StatusNotFound {
		return apiError("DELETE /ipam", code, body)
	}
	return nil
}

// createEndpoint is PUT /endpoint/{id}, with the id cilium-cni uses for a
// new endpoint (the agent picks the number).
func (a *apiClient) createEndpoint(ctx context.Context, req endpointRequest) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encoding the endpoint: %w", err)
	}
	code, resp, err := a.do(ctx, http.MethodPut, "/endpoint/"+url.PathEscape("cilium-local:0"), body)
	if err != nil {
		return err
	}
	if code != http.StatusCreated && code != http.StatusOK {
		return apiError("PUT /endpoint", code, resp)
	}
	return nil
}

// deleteEndpoint is DELETE /endpoint/container-id:{id}, cilium-cni's DEL.
func (a *apiClient) deleteEndpoint(ctx context.Context, containerID string) error {
	code, body, err := a.do(ctx, http.MethodDelete, "/endpoint/"+url.PathEscape("container-id:"+containerID), nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK && code != http.StatusNotFound {
		return apiError("DELETE /endpoint", code, body)
	}
	return nil
}

// endpointContainerIDs is GET /endpoint: the container ids of the
// agent's endpoints (after a restart, those it restored). Decoded as a
// stream: the answer grows with the node's pods.
func (a *apiClient) endpointContainerIDs(ctx context.Context) (map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiBase+"/endpoint", nil)
	if err != nil {
		return nil, fmt.Errorf("GET /endpoint: %w", err)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /endpoint: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, apiError("GET /endpoint", resp.StatusCode, body)
	}
	var eps []struct {
		Status struct {
			ExternalIdentifiers struct {
				ContainerID string `json:"container-id"`
			} `json:"external-identifiers"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&eps); err != nil {
		return nil, fmt.Errorf("GET /endpoint: decoding: %w", err)
	}
	out := make(map[string]bool, len(eps))
	for _, e := range eps {
		if id := e.Status.ExternalIdentifiers.ContainerID; id != "" {
			out[id] = true
		}
	}
	return out, nil
}

func (a *apiClient) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, apiBase+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return resp.StatusCode, out, nil
}

func (a *apiClient) close() { a.http.CloseIdleConnections() }

func apiError(call string, code int, body []byte) error {
	return fmt.Errorf("%s: HTTP %d: %s", call, code, truncate(body))
}

func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
