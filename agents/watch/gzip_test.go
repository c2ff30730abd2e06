package watch

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The API server gzips large LIST responses when asked; Client.Do asks as
// client-go does and hands the caller the inflated body, for any number of
// requests (the inflaters are pooled).
func TestDoAsksForGzipAndInflates(t *testing.T) {
	body := `{"kind":"PodList","items":[` + strings.Repeat(`{"metadata":{"name":"p"}},`, 1000) + `{}]}`
	var gotEncodings []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotEncodings = append(gotEncodings, r.Header.Get("Accept-Encoding"))
		if r.URL.Query().Get("plain") != "" {
			_, _ = io.WriteString(w, body)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, body)
		_ = zw.Close()
	}))
	defer srv.Close()
	c := NewClient(ClientConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, QPS: -1, Stats: &Stats{}})
	for i, query := range []string{"", "", "plain=1"} {
		resp, err := c.Do(context.Background(), &Request{Verb: http.MethodGet, Path: "/api/v1/pods", Query: query})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || !bytes.Equal(got, []byte(body)) {
			t.Fatalf("request %d: body %d bytes (%v), want the %d bytes sent", i, len(got), err, len(body))
		}
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("request %d: Content-Encoding %q left on an inflated body", i, resp.Header.Get("Content-Encoding"))
		}
	}
	for i, enc := range gotEncodings {
		if enc != "gzip" {
			t.Errorf("request %d sent Accept-Encoding %q, want gzip as client-go sends", i, enc)
		}
	}
}

// A body that claims gzip but is not is an error naming the request.
func TestDoRefusesABrokenGzipBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = io.WriteString(w, "not gzip")
	}))
	defer srv.Close()
	c := NewClient(ClientConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, QPS: -1, Stats: &Stats{}})
	_, err := c.Do(context.Background(), &Request{Verb: http.MethodGet, Path: "/api/v1/pods"})
	if err == nil || !strings.Contains(err.Error(), "GET /api/v1/pods") || !strings.Contains(err.Error(), "gzip") {
		t.Fatalf("Do = %v, want an error naming GET /api/v1/pods and gzip", err)
	}
}
