package history

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The OpenSearch / Elasticsearch export follows kube-burner's indexers:
// one document per metric sample, named by a metricName field and dated
// by a timestamp field. A run gives one document per figure, and one
// MetricVerdict document.
//
// One document per figure, rather than one per run with the figures as
// fields, because:
//   - every figure's number is in the one field "value", mapped once: a
//     Grafana or OpenSearch Dashboards panel is `metricName:"mutating-p99"`
//     over value, and a terms split on metricName charts many figures with
//     one query;
//   - figures as fields would map a new field per figure (the index's
//     field limit is 1000 by default, a new figure's type would be guessed
//     from its first value, and a dot in a figure's name would become an
//     object path);
//   - it is the convention the ecosystem's dashboards already query.
//
// Each document carries the run's setting and verdict, so a panel filters
// out inconclusive runs (inconclusive:false) without a join.

const (
	// DefaultOpenSearchIndex is the index documents go to by default.
	DefaultOpenSearchIndex = "churn-runs"
	// MetricVerdict is the metricName of a run's verdict document: value 1
	// when the run passed its SLOs and was conclusive, else 0 (as
	// churn_run_passed in the Prometheus export).
	MetricVerdict = "runVerdict"
	// KindVerdict is the kind of the verdict document.
	KindVerdict = "verdict"
	// bulkBatch is how many documents one _bulk request carries: about
	// 0.5 MB, far below the 100 MB http.max_content_length default and
	// small enough that a rejected request costs little to resend.
	bulkBatch = 1000
)

const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Document is one indexed document.
type Document struct {
	// ID is the _id: the run ID and the metric name, so that exporting a
	// history again replaces its documents instead of adding copies.
	ID string `json:"-"`
	// Timestamp is the run's start (the figure belongs to the run, not to
	// the moment it was exported), in UTC to the millisecond: what a date
	// field holds, and a form every version's date detection reads.
	Timestamp  string   `json:"timestamp"`
	MetricName string   `json:"metricName"`
	Value      docFloat `json:"value"`
	// Kind is report.FigureSLO, FigureKey, FigureSimulator or KindVerdict.
	Kind   string    `json:"kind"`
	Unit   string    `json:"unit,omitempty"`
	Better string    `json:"better,omitempty"`
	Limit  *docFloat `json:"limit,omitempty"`
	RunID  string    `json:"runID"`
	Setting
	Passed       bool   `json:"passed"`
	Inconclusive bool   `json:"inconclusive"`
	Verdict      string `json:"verdict"`
}

// docFloat is a float64 that is always written with a decimal point or an
// exponent. OpenSearch's and Elasticsearch's dynamic mapping maps a field
// from the first value it sees: a JSON integer maps it as long, and every
// later 0.082 would be truncated to 0. "0.0" maps it as float.
type docFloat float64

func (f docFloat) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(float64(f))
	if err != nil {
		return nil, err
	}
	if !bytes.ContainsAny(b, ".eE") {
		b = append(b, ".0"...)
	}
	return b, nil
}

// Documents are the runs' figures and verdicts as documents, in the order
// of runs. A run met twice under one run ID with one start (the same
// artifact kept in two places) is sent once; two different runs under one
// ID, or a run without an ID, are an error, as their documents would
// overwrite each other or have no stable _id. Figures that are not finite
// numbers are left out: JSON has no NaN.
func Documents(runs []*Run) ([]Document, error) {
	var out []Document
	seen := map[string]*Run{}
	for _, r := range runs {
		if r.RunID == "" {
			return nil, fmt.Errorf("%s has no runID: its documents would have no stable _id", r.Path)
		}
		if prev, ok := seen[r.RunID]; ok {
			if prev.Start.Equal(r.Start) {
				continue
			}
			return nil, fmt.Errorf("%s and %s are two runs with one run ID %q: their documents would overwrite each other",
				prev.Path, r.Path, r.RunID)
		}
		seen[r.RunID] = r
		doc := func(metric, kind string, v float64) Document {
			return Document{
				ID: r.RunID + ":" + metric, Timestamp: r.Start.UTC().Format(timestampLayout), MetricName: metric, Value: docFloat(v), Kind: kind,
				RunID: r.RunID, Setting: r.Setting,
				Passed: r.Passed, Inconclusive: r.Inconclusive, Verdict: r.Verdict(),
			}
		}
		for _, name := range r.order {
			f := r.Figures[name]
			if math.IsNaN(f.Value) || math.IsInf(f.Value, 0) {
				continue
			}
			d := doc(f.Name, f.Kind, f.Value)
			d.Unit, d.Better = f.Unit, f.Better
			if f.Limit != 0 && !math.IsNaN(f.Limit) && !math.IsInf(f.Limit, 0) {
				d.Limit = new(docFloat(f.Limit))
			}
			out = append(out, d)
		}
		out = append(out, doc(MetricVerdict, KindVerdict, boolValue(r.Passed && !r.Inconclusive)))
	}
	return out, nil
}

// OpenSearchTarget is where documents go.
type OpenSearchTarget struct {
	// URL is the cluster's base URL, e.g. http://localhost:9200; _bulk is
	// appended to its path.
	URL   string
	Index string
	// User and Password are basic-auth credentials; no auth when User is
	// empty.
	User, Password string
}

// Validate checks the URL and the index name, so that a typo fails before
// a history is read and analyzed.
func (t OpenSearchTarget) Validate() error {
	if _, err := t.bulkURL(); err != nil {
		return err
	}
	return validIndexName(t.Index)
}

func (t OpenSearchTarget) bulkURL() (string, error) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("OpenSearch URL %q: want http(s)://host[:port], e.g. http://localhost:9200", t.URL)
	}
	if _, ok := u.User.Password(); ok {
		// A password in a URL ends up in shell history, ps and CI logs.
		return "", fmt.Errorf("OpenSearch URL %s holds a password: give the user apart and the password in the environment", u.Redacted())
	}
	if u.User != nil {
		return "", fmt.Errorf("OpenSearch URL %s holds a user: give the user apart and the password in the environment", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("OpenSearch URL %q: want no query or fragment, only the cluster's base URL", t.URL)
	}
	return strings.TrimSuffix(u.String(), "/") + "/_bulk", nil
}

// validIndexName applies OpenSearch's and Elasticsearch's rules for index
// names, so a bad name is refused here rather than as 100 item errors.
func validIndexName(name string) error {
	bad := func(why string) error { return fmt.Errorf("index name %q: %s", name, why) }
	switch {
	case name == "":
		return bad("empty")
	case name == "." || name == "..":
		return bad(`"." and ".." are not index names`)
	case len(name) > 255:
		return bad("longer than 255 bytes")
	case strings.ContainsAny(name[:1], "-_+"):
		return bad("must not start with -, _ or +")
	case strings.ToLower(name) != name:
		return bad("must be lowercase")
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return bad(`must not hold \ / * ? " < > | space , # or :`)
	}
	return nil
}

// BulkResult counts what the cluster did with the documents.
type BulkResult struct {
	// Created are new documents; Updated replaced documents of the same
	// _id (an export of runs already exported).
	Documents, Created, Updated int
}

// bulkBackoff are the waits before each retry of a request the cluster
// answered 429 or 5xx; a var so tests need not wait.
var bulkBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}

// OpenSearchBulk indexes docs into t.Index through the _bulk API (NDJSON,
// one "index" action per document with its _id, which creates or replaces:
// the export is idempotent). It fails on the first request the cluster
// refuses, or whose response reports an item error, naming the first
// failed item. It was written to the bulk API's documented format
// (OpenSearch 1-2, Elasticsearch 7-8), not run against a live cluster.
func OpenSearchBulk(ctx context.Context, t OpenSearchTarget, client *http.Client, docs []Document) (BulkResult, error) {
	var res BulkResult
	if err := t.Validate(); err != nil {
		return res, err
	}
	endpoint, _ := t.bulkURL()
	for start := 0; start < len(docs); start += bulkBatch {
		batch := docs[start:min(start+bulkBatch, len(docs))]
		body, err := bulkBody(t.Index, batch)
		if err != nil {
			return res, err
		}
		resp, err := postBulk(ctx, t, client, endpoint, body)
		if err != nil {
			return res, fmt.Errorf("bulk index of %d documents to %s: %w", len(batch), endpoint, err)
		}
		created, updated, err := checkBulk(resp, batch)
		res.Documents += created + updated
		res.Created += created
		res.Updated += updated
		if err != nil {
			return res, fmt.Errorf("bulk index to %s, index %s: %w", endpoint, t.Index, err)
		}
	}
	return res, nil
}

// bulkBody is the NDJSON body: an action line and a document line per
// document, each ending in a newline (the API requires the last one too).
func bulkBody(index string, docs []Document) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // Encode ends each value with "\n"
	enc.SetEscapeHTML(false)
	type meta struct {
		Index string `json:"_index"`
		ID    string `json:"_id"`
	}
	for _, d := range docs {
		if err := enc.Encode(map[string]meta{"index": {Index: index, ID: d.ID}}); err != nil {
			return nil, fmt.Errorf("encode bulk action of %s: %w", d.ID, err)
		}
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode document %s: %w", d.ID, err)
		}
	}
	return b.Bytes(), nil
}

// postBulk sends one request, again after a 429 or a 5xx (the bulk is
// idempotent, so a resend is safe), and returns the response body of a
// 2xx answer.
func postBulk(ctx context.Context, t OpenSearchTarget, client *http.Client, endpoint string, body []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Accept", "application/json")
		if t.User != "" {
			req.SetBasicAuth(t.User, t.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		// Bounded: a bulk response is about 150 bytes per item.
		out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		if resp.StatusCode/100 == 2 {
			return out, nil
		}
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		if !retry || attempt >= len(bulkBackoff) {
			return nil, fmt.Errorf("HTTP %s: %s", resp.Status, excerpt(out))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("HTTP %s, not retried: %w", resp.Status, ctx.Err())
		case <-time.After(bulkBackoff[attempt]):
		}
	}
}

type bulkResponse struct {
	Errors *bool                 `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	ID     string          `json:"_id"`
	Status int             `json:"status"`
	Result string          `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// checkBulk reads a _bulk response: every item must have succeeded, and
// there must be one item per document sent.
func checkBulk(body []byte, docs []Document) (created, updated int, err error) {
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Errors == nil {
		return 0, 0, fmt.Errorf("not a _bulk response (is the URL the cluster's?): %s", excerpt(body))
	}
	var failed int
	var first string
	for i, entry := range r.Items {
		for action, it := range entry {
			if it.Status/100 == 2 && len(it.Error) == 0 {
				switch it.Result {
				case "updated", "noop":
					updated++
				default:
					created++
				}
				continue
			}
			failed++
			if first == "" {
				first = fmt.Sprintf("item %d (%s _id %q): status %d: %s", i+1, action, it.ID, it.Status, itemError(it.Error))
			}
		}
	}
	switch {
	case failed > 0:
		return created, updated, fmt.Errorf("%d of %d documents failed; the first: %s", failed, len(docs), first)
	case *r.Errors:
		return created, updated, errors.New("the response says errors but names no failed item")
	case len(r.Items) != len(docs):
		return created, updated, fmt.Errorf("the response has %d items for %d documents sent", len(r.Items), len(docs))
	}
	return created, updated, nil
}

// itemError is an item's error as "type: reason (caused by type: reason)".
func itemError(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "no error given"
	}
	type cause struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	var e struct {
		cause
		CausedBy *cause `json:"caused_by"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Type == "" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(raw)
	}
	out := e.Type + ": " + e.Reason
	if e.CausedBy != nil && e.CausedBy.Type != "" {
		out += " (caused by " + e.CausedBy.Type + ": " + e.CausedBy.Reason + ")"
	}
	return out
}

func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return strconv.Quote(s)
}
