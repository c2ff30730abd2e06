package history

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churn-dev/churn/observers"
)

// fakeBulk is a _bulk endpoint that checks each request against the bulk
// API's documented format and keeps the documents by index and _id, as a
// cluster would: a second "index" of an _id replaces the first.
type fakeBulk struct {
	t          *testing.T
	user, pass string
	mu         sync.Mutex
	docs       map[string]map[string]json.RawMessage // index -> _id -> document
	requests   int
}

func (f *fakeBulk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	fail := func(code int, format string, args ...any) {
		f.t.Errorf(format, args...)
		http.Error(w, fmt.Sprintf(format, args...), code)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		fail(http.StatusNotFound, "%s %s, want POST /_bulk", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		fail(http.StatusNotAcceptable, "Content-Type %q, want application/x-ndjson", ct)
		return
	}
	if u, p, ok := r.BasicAuth(); f.user != "" && (!ok || u != f.user || p != f.pass) {
		fail(http.StatusUnauthorized, "basic auth %q/%q, want %q and the password", u, p, f.user)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if !bytes.HasSuffix(body, []byte("\n")) {
		fail(http.StatusBadRequest, "the bulk body does not end with a newline")
		return
	}
	var items []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			fail(http.StatusBadRequest, "action line %q: %v", sc.Text(), err)
			return
		}
		meta, ok := action["index"]
		if !ok || meta.Index == "" || meta.ID == "" {
			fail(http.StatusBadRequest, "action line %q: want an index action with _index and _id", sc.Text())
			return
		}
		if !sc.Scan() {
			fail(http.StatusBadRequest, "action %q has no document line", meta.ID)
			return
		}
		doc := json.RawMessage(bytes.Clone(sc.Bytes()))
		if !json.Valid(doc) {
			fail(http.StatusBadRequest, "document %s is not JSON: %s", meta.ID, doc)
			return
		}
		if f.docs == nil {
			f.docs = map[string]map[string]json.RawMessage{}
		}
		if f.docs[meta.Index] == nil {
			f.docs[meta.Index] = map[string]json.RawMessage{}
		}
		result := "created"
		if _, ok := f.docs[meta.Index][meta.ID]; ok {
			result = "updated"
		}
		f.docs[meta.Index][meta.ID] = doc
		items = append(items, map[string]any{"index": map[string]any{
			"_index": meta.Index, "_id": meta.ID, "status": map[string]int{"created": 201, "updated": 200}[result], "result": result}})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"took": 3, "errors": false, "items": items})
}

func TestOpenSearchBulkIndexesOneDocumentPerFigureIdempotently(t *testing.T) {
	runs := synthetic(1, 4, 0, 1)
	runs[1].Inconclusive = true
	runs[2].Passed = false
	// A figure of 0 must still go as a float: the first value indexed
	// fixes the field's mapping.
	cpu := runs[0].Figures["kube-apiserver CPU"]
	cpu.Value = 0
	runs[0].Figures[cpu.Name] = cpu
	fake := &fakeBulk{t: t, user: "churn", pass: "s3cret"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	docs, err := Documents(runs)
	if err != nil {
		t.Fatal(err)
	}
	target := OpenSearchTarget{URL: srv.URL + "/", Index: "churn-runs", User: "churn", Password: "s3cret"}
	res, err := OpenSearchBulk(context.Background(), target, srv.Client(), docs)
	if err != nil {
		t.Fatal(err)
	}
	// 3 figures and a verdict per run.
	if res.Documents != 16 || res.Created != 16 || res.Updated != 0 {
		t.Errorf("first export %+v, want 16 documents created", res)
	}
	// Exported again: the same _ids, replaced, not added.
	res, err = OpenSearchBulk(context.Background(), target, srv.Client(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 0 || res.Updated != 16 || len(fake.docs["churn-runs"]) != 16 {
		t.Errorf("second export %+v, %d documents stored; want 16 replaced and 16 stored", res, len(fake.docs["churn-runs"]))
	}

	stored := fake.docs["churn-runs"]
	raw, ok := stored["run-a:kube-apiserver CPU"]
	if !ok {
		t.Fatalf("no document with _id run-a:kube-apiserver CPU among %d", len(stored))
	}
	if !bytes.Contains(raw, []byte(`"value":0.0`)) {
		t.Errorf("a zero value is not written as a float: %s", raw)
	}
	var d map[string]any
	if err := json.Unmarshal(stored["run-a:"+observers.SLOMutatingP99], &d); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]any{
		"metricName": observers.SLOMutatingP99, "kind": "slo", "unit": "seconds", "better": "lower", "limit": 1.0,
		"runID": "run-a", "profile": "1k-pods", "mesh": "none", "target": "local", "kubernetes": "v1.37.2",
		"passed": true, "inconclusive": false, "verdict": "PASS", "timestamp": "2026-12-02T02:00:00.000Z",
	} {
		if d[field] != want {
			t.Errorf("mutating-p99 document: %s = %v (%T), want %v", field, d[field], d[field], want)
		}
	}
	if v, ok := d["value"].(float64); !ok || v < 0.05 || v > 0.3 {
		t.Errorf("mutating-p99 document: value %v", d["value"])
	}
	if _, ok := d["extraArgs"]; ok {
		t.Errorf("an empty setting is sent: %v", d)
	}
	for id, want := range map[string]string{
		"run-a:runVerdict": `"value":1.0`, "run-b:runVerdict": `"verdict":"INCONCLUSIVE"`, "run-c:runVerdict": `"value":0.0`,
		"run-b:runVerdict ": "", // no such id: ids are exact
	} {
		raw, ok := stored[id]
		if want == "" {
			if ok {
				t.Errorf("unexpected document %q", id)
			}
			continue
		}
		if !ok || !bytes.Contains(raw, []byte(want)) {
			t.Errorf("document %s = %s, want it to hold %s", id, raw, want)
		}
	}
}

func TestOpenSearchBulkSplitsLargeHistories(t *testing.T) {
	fake := &fakeBulk{t: t}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var docs []Document
	for i := range bulkBatch + 5 {
		docs = append(docs, Document{ID: fmt.Sprintf("r%d:x", i), MetricName: "x", Value: docFloat(i)})
	}
	res, err := OpenSearchBulk(context.Background(), OpenSearchTarget{URL: srv.URL, Index: "churn-runs"}, srv.Client(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if fake.requests != 2 || res.Created != bulkBatch+5 {
		t.Errorf("%d requests, %+v; want 2 requests and every document created", fake.requests, res)
	}
}

func TestOpenSearchBulkFailsOnItemErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"took":5,"errors":true,"items":[
{"index":{"_index":"churn-runs","_id":"run-a:mutating-p99","status":201,"result":"created"}},
{"index":{"_index":"churn-runs","_id":"run-a:kube-apiserver CPU","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [value] of type [long]","caused_by":{"type":"illegal_argument_exception","reason":"not a long"}}}},
{"index":{"_index":"churn-runs","_id":"run-a:churn-lag-p99","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
{"index":{"_index":"churn-runs","_id":"run-a:runVerdict","status":201,"result":"created"}}]}`)
	}))
	defer srv.Close()
	docs, err := Documents(synthetic(1, 1, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	res, err := OpenSearchBulk(context.Background(), OpenSearchTarget{URL: srv.URL, Index: "churn-runs"}, srv.Client(), docs)
	if err == nil {
		t.Fatal("a response with errors: true was taken for success")
	}
	for _, want := range []string{
		"2 of 4 documents failed",
		`the first: item 2 (index _id "run-a:kube-apiserver CPU"): status 400`,
		"mapper_parsing_exception: failed to parse field [value] of type [long] (caused by illegal_argument_exception: not a long)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if res.Created != 2 {
		t.Errorf("%+v: want the 2 documents that went in counted", res)
	}
}

func TestOpenSearchBulkRefusals(t *testing.T) {
	docs, err := Documents(synthetic(1, 1, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	// A server that is gone: connection refused, named with the URL.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	quick := &http.Client{Timeout: 5 * time.Second}
	_, err = OpenSearchBulk(context.Background(), OpenSearchTarget{URL: gone.URL, Index: "churn-runs"}, quick, docs)
	if err == nil || !strings.Contains(err.Error(), gone.URL+"/_bulk") || !strings.Contains(err.Error(), "4 documents") {
		t.Errorf("unreachable URL: %v, want an error naming %s/_bulk", err, gone.URL)
	}

	defer func(b []time.Duration) { bulkBackoff = b }(bulkBackoff)
	bulkBackoff = []time.Duration{time.Millisecond, time.Millisecond}
	var calls int
	status := func(codes ...int) *httptest.Server {
		calls = 0
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code := codes[min(calls, len(codes)-1)]
			calls++
			if code == http.StatusOK {
				(&fakeBulk{t: t}).ServeHTTP(w, r)
				return
			}
			io.Copy(io.Discard, r.Body)
			http.Error(w, `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":`+fmt.Sprint(code)+`}`, code)
		}))
	}
	// A refusal is not retried and says what the cluster said.
	srv := status(http.StatusUnauthorized)
	_, err = OpenSearchBulk(context.Background(), OpenSearchTarget{URL: srv.URL, Index: "churn-runs"}, srv.Client(), docs)
	srv.Close()
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 Unauthorized") || !strings.Contains(err.Error(), "missing authentication credentials") || calls != 1 {
		t.Errorf("401: %v after %d calls, want the status and reason after 1", err, calls)
	}
	// 503 then 429 then success: retried (the bulk is idempotent).
	srv = status(http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK)
	_, err = OpenSearchBulk(context.Background(), OpenSearchTarget{URL: srv.URL, Index: "churn-runs"}, srv.Client(), docs)
	srv.Close()
	if err != nil || calls != 3 {
		t.Errorf("503, 429, 200: %v after %d calls, want success after 3", err, calls)
	}
	// Retries end.
	srv = status(http.StatusServiceUnavailable)
	_, err = OpenSearchBulk(context.Background(), OpenSearchTarget{URL: srv.URL, Index: "churn-runs"}, srv.Client(), docs)
	srv.Close()
	if err == nil || !strings.Contains(err.Error(), "HTTP 503") || calls != 3 {
		t.Errorf("503 forever: %v after %d calls, want an error after 3", err, calls)
	}
	// Not a cluster: a 200 that is not a bulk response.
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hello</html>") }))
	_, err = OpenSearchBulk(context.Background(), OpenSearchTarget{URL: srv.URL, Index: "churn-runs"}, srv.Client(), docs)
	srv.Close()
	if err == nil || !strings.Contains(err.Error(), "not a _bulk response") {
		t.Errorf("HTML answer: %v", err)
	}
	// A response short of items is not a success.
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errors":false,"items":[{"index":{"_id":"run-a:mutating-p99","status":201,"result":"created"}}]}`)
	}))
	_, err = OpenSearchBulk(context.Background(), OpenSearchTarget{URL: srv.URL, Index: "churn-runs"}, srv.Client(), docs)
	srv.Close()
	if err == nil || !strings.Contains(err.Error(), "1 items for 4 documents") {
		t.Errorf("short response: %v", err)
	}
}

func TestOpenSearchTargetValidate(t *testing.T) {
	for _, tc := range []struct {
		target OpenSearchTarget
		want   string
	}{
		{OpenSearchTarget{URL: "http://localhost:9200", Index: "churn-runs"}, ""},
		{OpenSearchTarget{URL: "https://search.example:443/es/", Index: "churn-2026.12"}, ""},
		{OpenSearchTarget{URL: "localhost:9200", Index: "churn-runs"}, `OpenSearch URL "localhost:9200"`},
		{OpenSearchTarget{URL: "http://admin:hunter2@localhost:9200", Index: "churn-runs"}, "holds a password"},
		{OpenSearchTarget{URL: "http://localhost:9200?pretty", Index: "churn-runs"}, "no query"},
		{OpenSearchTarget{URL: "http://localhost:9200", Index: "Churn"}, "lowercase"},
		{OpenSearchTarget{URL: "http://localhost:9200", Index: "_churn"}, "must not start"},
		{OpenSearchTarget{URL: "http://localhost:9200", Index: "churn runs"}, "must not hold"},
		{OpenSearchTarget{URL: "http://localhost:9200", Index: ""}, "empty"},
	} {
		err := tc.target.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.target, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want an error naming %q", tc.target, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if u, _ := (OpenSearchTarget{URL: "https://search.example/es/"}).bulkURL(); u != "https://search.example/es/_bulk" {
		t.Errorf("bulk URL under a path: %s", u)
	}
}

func TestDocumentsRunIDs(t *testing.T) {
	runs := synthetic(1, 2, 0, 1)
	// The same run kept in two places is sent once.
	dup := *runs[0]
	dup.Path = "elsewhere/results.json"
	docs, err := Documents(append(runs, &dup))
	if err != nil || len(docs) != 8 {
		t.Errorf("a run kept twice: %d documents, %v; want 8", len(docs), err)
	}
	// Two runs under one ID would overwrite each other.
	other := *runs[1]
	other.RunID, other.Path = runs[0].RunID, "b/results.json"
	if _, err := Documents([]*Run{runs[0], &other}); err == nil || !strings.Contains(err.Error(), `one run ID "run-a"`) {
		t.Errorf("two runs with one ID: %v", err)
	}
	noID := *runs[0]
	noID.RunID, noID.Path = "", "old/results.json"
	if _, err := Documents([]*Run{&noID}); err == nil || !strings.Contains(err.Error(), "old/results.json has no runID") {
		t.Errorf("a run without an ID: %v", err)
	}
}
