package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/churn-dev/churn/agents/watch"
)

// Built-in kinds are written in protobuf, as the real components' typed
// clients do; custom resources in JSON.
var protoCodec = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

func encodeProto(obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := protoCodec.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("encode %T: %w", obj, err)
	}
	return buf.Bytes(), nil
}

// decodeTyped decodes a small typed response (a Lease) in whichever
// encoding the server chose. Only used off the hot path.
func decodeTyped(body []byte, into runtime.Object) error {
	_, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, into)
	return err
}

// apiCall is one request a behaviour makes beyond its watches.
type apiCall struct {
	client      *watch.Client
	verb        string // HTTP method
	path        string
	body        []byte
	contentType string
	accept      string
	// key counts a successful mutating call, e.g. "create ciliumendpoints".
	key string
}

// do sends c and returns the response body (bounded). Successful writes
// are counted by key; GETs by the Gets counter.
func (r *replica) do(ctx context.Context, c apiCall) ([]byte, error) {
	req := &watch.Request{Verb: c.verb, Path: c.path, Body: c.body, ContentType: c.contentType, Accept: c.accept}
	r.calls.Add(1)
	resp, err := c.client.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", c.verb, c.path, err)
	}
	if c.verb == http.MethodGet {
		r.comp.gets.Add(1)
	} else if c.key != "" {
		r.comp.stats.Write(c.key)
	}
	return body, nil
}

// countError records a failed call unless ctx is ending.
func (r *replica) countError(ctx context.Context, what string, err error) {
	if ctx.Err() != nil || err == nil {
		return
	}
	r.comp.stats.Errors.Add(1)
	r.log.Debug("call failed", zap.String("call", what), zap.Error(err))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps of strings, numbers and slices are marshalled here.
		return []byte("{}")
	}
	return b
}

// skimMeta reads uid and resourceVersion from a JSON object response.
func skimMeta(body []byte) (uid, rv string) {
	var m struct {
		Metadata struct {
			UID             string `json:"uid"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if json.Unmarshal(body, &m) != nil {
		return "", ""
	}
	return m.Metadata.UID, m.Metadata.ResourceVersion
}

// objectPath is a named object's API path.
func objectPath(group, version, resource, ns, name string) string {
	p := "/apis/" + group + "/" + version
	if group == "" {
		p = "/api/" + version
	}
	if ns != "" {
		p += "/namespaces/" + ns
	}
	p += "/" + resource
	if name != "" {
		p += "/" + name
	}
	return p
}

// sanitizeName makes a DNS-1123 label out of s (lowercase alphanumerics
// and '-', at most 63 characters).
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	if out == "" {
		out = "x"
	}
	return out
}
