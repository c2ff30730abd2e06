package fuzzcorpus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protodelim"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/internal/testenv"
)

// captureEnv turns the capture on; it starts a control plane and rewrites
// checked-in files, so a plain `go test ./...` must not run it.
const captureEnv = "CHURN_CAPTURE_CORPUS"

const (
	acceptProto     = "application/vnd.kubernetes.protobuf,application/json"
	acceptJSON      = "application/json"
	acceptMetaProto = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
	// acceptMetricsProto is what observers ask kube-apiserver's /metrics for.
	acceptMetricsProto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3"
	ns                 = "fuzz-corpus"
)

// Fields bits of agents/watch, repeated here so that the seeds exercise
// every optional part of the skimmers.
const (
	fieldLabels      uint16 = 1 << 0
	fieldAnnotations uint16 = 1 << 1
	fieldPod         uint16 = 1 << 2
	fieldRaw         uint16 = 1 << 4
)

// TestCaptureCorpus records real bytes of a local control plane as seed
// corpora: watch streams (protobuf and JSON; pods, configmaps, metadata
// only, a streaming list, an ERROR event), list pages,
// a gzip-encoded list, error Status bodies and /metrics. Run it with
//
//	CHURN_CAPTURE_CORPUS=1 go test ./hack/fuzzcorpus -run TestCaptureCorpus -v
func TestCaptureCorpus(t *testing.T) {
	if os.Getenv(captureEnv) != "1" {
		t.Skipf("set %s=1 to start a control plane and rewrite the seed corpora", captureEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := testenv.RepoRoot(t)
	c := testenv.StartCluster(ctx, t, local.Options{})
	cfg := c.RESTConfig()
	// Asking for gzip ourselves keeps net/http from inflating the body.
	cfg.DisableCompression = true
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	cp := &capturer{t: t, ctx: ctx, hc: hc, base: cfg.Host, cs: cs}

	watchDir := filepath.Join(root, "agents", "watch")
	obsDir := filepath.Join(root, "observers")
	for _, target := range []string{"FuzzWatchStream", "FuzzSkimProtoEvent", "FuzzSkimJSONEvent", "FuzzReadProtoList", "FuzzReadJSONList", "FuzzGunzipBody", "FuzzReadStatusError"} {
		must(t, Prune(watchDir, target))
	}
	must(t, Prune(obsDir, "FuzzParseMetrics"))

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv := pods.ResourceVersion

	// Watches from rv see every change the mutations below make; the
	// server ends them after timeoutSeconds.
	type stream struct {
		name, path, accept string
		want               uint16
		body               io.ReadCloser
	}
	watchQuery := url.Values{"watch": {"true"}, "resourceVersion": {rv}, "allowWatchBookmarks": {"true"}, "timeoutSeconds": {"6"}}.Encode()
	streams := []*stream{
		{name: "pods-proto", path: "/api/v1/namespaces/" + ns + "/pods", accept: acceptProto, want: fieldLabels | fieldAnnotations | fieldPod},
		{name: "pods-json", path: "/api/v1/namespaces/" + ns + "/pods", accept: acceptJSON, want: fieldLabels | fieldAnnotations | fieldPod},
		{name: "configmaps-proto", path: "/api/v1/namespaces/" + ns + "/configmaps", accept: acceptProto, want: fieldLabels},
		{name: "configmaps-json", path: "/api/v1/namespaces/" + ns + "/configmaps", accept: acceptJSON, want: fieldLabels | fieldRaw},
		{name: "pods-metadata-proto", path: "/api/v1/namespaces/" + ns + "/pods", accept: acceptMetaProto, want: fieldLabels},
	}
	for _, s := range streams {
		s.body = cp.open(s.path+"?"+watchQuery, s.accept, "")
	}
	cp.mutate()
	for _, s := range streams {
		data, err := io.ReadAll(s.body)
		s.body.Close()
		if err != nil {
			t.Fatalf("read %s watch: %v", s.name, err)
		}
		cp.saveStream(watchDir, s.name, data, strings.HasPrefix(s.accept, "application/vnd"), s.want)
	}

	// A streaming list: the current pods as ADDED events, then the
	// initial-events-end BOOKMARK.
	syncQuery := url.Values{"watch": {"true"}, "sendInitialEvents": {"true"}, "resourceVersionMatch": {"NotOlderThan"},
		"allowWatchBookmarks": {"true"}, "timeoutSeconds": {"2"}}.Encode()
	for _, accept := range []string{acceptProto, acceptJSON} {
		data := cp.get("/api/v1/namespaces/"+ns+"/pods?"+syncQuery, accept, "")
		cp.saveStream(watchDir, "pods-streaming-list-"+kind(accept), data, accept == acceptProto, fieldAnnotations|fieldPod)
	}

	// List pages: limit=2 returns a continue token.
	for _, res := range []string{"pods", "configmaps"} {
		for _, accept := range []string{acceptProto, acceptJSON} {
			data := cp.get("/api/v1/namespaces/"+ns+"/"+res+"?limit=2", accept, "")
			target := "FuzzReadJSONList"
			if accept == acceptProto {
				target = "FuzzReadProtoList"
			}
			must(t, Write(watchDir, target, res+"-page", data, fieldLabels|fieldPod))
			must(t, Write(watchDir, target, res+"-page-skip", data, uint16(0)))
		}
	}

	// The API server gzips a list body above 128 KiB.
	cp.bulkConfigMaps(40, 4<<10)
	gz := cp.get("/api/v1/namespaces/"+ns+"/configmaps?labelSelector=bulk%3Dtrue", acceptJSON, "gzip")
	if len(gz) < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
		t.Fatalf("configmap list was not gzip-encoded (%d bytes)", len(gz))
	}
	must(t, Write(watchDir, "FuzzGunzipBody", "configmaps-list", gz))

	// Error bodies (a 404 Status) in both encodings, also framed as the
	// ERROR event a watch ends with (an expired resourceVersion is served
	// from the watch cache's window here, so the server's own ERROR event
	// cannot be provoked cheaply; its object is a Status like these).
	for _, accept := range []string{acceptProto, acceptJSON} {
		data := cp.getStatus("/api/v1/namespaces/"+ns+"/pods/missing", accept, http.StatusNotFound)
		proto := accept == acceptProto
		must(t, Write(watchDir, "FuzzReadStatusError", "not-found-"+kind(accept), data, proto))
		var frame []byte
		if proto {
			ev := metav1.WatchEvent{Type: "ERROR", Object: runtime.RawExtension{Raw: data}}
			b, err := ev.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			frame = binary.BigEndian.AppendUint32(nil, uint32(len(b)))
			frame = append(frame, b...)
		} else {
			frame = fmt.Appendf(nil, "{\"type\":\"ERROR\",\"object\":%s}\n", bytes.TrimSpace(data))
		}
		cp.saveStream(watchDir, "error-"+kind(accept), frame, proto, 0)
	}

	// /metrics, reduced to the families churn reads and a few others.
	text := cp.get("/metrics", "text/plain;version=0.0.4", "")
	must(t, Write(obsDir, "FuzzParseMetrics", "apiserver-text", reduceMetricsText(text, 60, 400), false))
	delim := cp.get("/metrics", acceptMetricsProto, "")
	must(t, Write(obsDir, "FuzzParseMetrics", "apiserver-delimited", reduceDelimited(t, delim, 3), true))
}

type capturer struct {
	t    *testing.T
	ctx  context.Context
	hc   *http.Client
	base string
	cs   *kubernetes.Clientset
}

func kind(accept string) string {
	if strings.HasPrefix(accept, "application/vnd") {
		return "proto"
	}
	return "json"
}

func (c *capturer) open(pathQuery, accept, encoding string) io.ReadCloser {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.base+pathQuery, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("GET %s: %s: %s", pathQuery, resp.Status, b)
	}
	return resp.Body
}

func (c *capturer) get(pathQuery, accept, encoding string) []byte {
	c.t.Helper()
	body := c.open(pathQuery, accept, encoding)
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		c.t.Fatalf("GET %s: %v", pathQuery, err)
	}
	return b
}

func (c *capturer) getStatus(pathQuery, accept string, want int) []byte {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.base+pathQuery, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("GET %s: %s, want %d", pathQuery, resp.Status, want)
	}
	return b
}

// mutate makes the changes the watches record: pods created, given a
// Ready status, gracefully then forcibly deleted; a configmap created,
// updated and deleted.
func (c *capturer) mutate() {
	t, ctx, pods := c.t, c.ctx, c.cs.CoreV1().Pods(ns)
	for i, node := range []string{"kwok-node-0", ""} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("web-%d", i), Namespace: ns,
				Labels:      map[string]string{"app": "web", "churn.dev/run": "fuzz"},
				Annotations: map[string]string{"ambient.istio.io/redirection": "enabled"},
			},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}}},
		}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pods.Get(ctx, "web-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = "10.0.7.12"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.7.12"}}
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()},
	}
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A bound pod's graceful delete only sets deletionTimestamp.
	if err := pods.Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	if err := pods.Delete(ctx, "web-0", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}

	cms := c.cs.CoreV1().ConfigMaps(ns)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns, Labels: map[string]string{"churn.dev/run": "fuzz"}},
		Data:       map[string]string{"mode": "churn", "quoted": "a \"b\" \\ c\n\td\u00e9"},
	}
	cm, err = cms.Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["mode"] = "steady"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		extra := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("keep-%d", i), Namespace: ns}, Data: map[string]string{"i": fmt.Sprint(i)}}
		if _, err := cms.Create(ctx, extra, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *capturer) bulkConfigMaps(n, size int) {
	filler := strings.Repeat("churn fuzz corpus filler ", size/25+1)[:size]
	for i := range n {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bulk-%02d", i), Namespace: ns, Labels: map[string]string{"bulk": "true"}},
			Data:       map[string]string{"filler": filler},
		}
		if _, err := c.cs.CoreV1().ConfigMaps(ns).Create(c.ctx, cm, metav1.CreateOptions{}); err != nil {
			c.t.Fatal(err)
		}
	}
}

// saveStream writes a whole watch stream as a FuzzWatchStream seed (under
// two chunkings) and its first few events as skimmer seeds.
func (c *capturer) saveStream(dir, name string, data []byte, proto bool, want uint16) {
	t := c.t
	if len(data) == 0 {
		t.Fatalf("%s: empty watch stream", name)
	}
	must(t, Write(dir, "FuzzWatchStream", name, data, proto, uint16(0), want))
	must(t, Write(dir, "FuzzWatchStream", name+"-split", data, proto, uint16(7), want))
	var events [][]byte
	if proto {
		for b := data; len(b) >= 4 && len(events) < 8; {
			n := int(binary.BigEndian.Uint32(b))
			if n > len(b)-4 {
				break
			}
			events = append(events, b[4:4+n])
			b = b[4+n:]
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() && len(events) < 8 {
			events = append(events, append([]byte(nil), sc.Bytes()...))
		}
	}
	target := "FuzzSkimJSONEvent"
	if proto {
		target = "FuzzSkimProtoEvent"
	}
	for i, ev := range events {
		must(t, Write(dir, target, fmt.Sprintf("%s-%d", name, i), ev, want))
	}
	t.Logf("%s: %d bytes, %d events kept as skimmer seeds", name, len(data), len(events))
}

// reduceMetricsText keeps the families observers read and the first few
// others, each cut after about perFamily lines at a series boundary (a
// histogram series ends with its _count line), at most maxLines in all.
func reduceMetricsText(text []byte, perFamily, maxLines int) []byte {
	var out bytes.Buffer
	lines, kept, others := 0, 0, 0
	keep, hist, full := false, false, false
	for line := range strings.SplitSeq(string(text), "\n") {
		if name, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ = strings.Cut(name, " ")
			keep = wanted[name] || others < 5
			if !wanted[name] {
				others++
			}
			kept, hist, full = 0, false, false
		}
		if strings.HasPrefix(line, "# TYPE ") {
			hist = strings.HasSuffix(line, " histogram")
		}
		if !keep || full || line == "" {
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
		kept++
		lines++
		if kept >= perFamily && !strings.HasPrefix(line, "#") {
			name, _, _ := strings.Cut(line, "{")
			full = !hist || strings.HasSuffix(name, "_count")
		}
		if lines >= maxLines {
			break
		}
	}
	return out.Bytes()
}

// wanted are the families observers/apiserver_parse.go reads.
var wanted = map[string]bool{
	"apiserver_request_duration_seconds": true, "apiserver_request_total": true,
	"apiserver_flowcontrol_rejected_requests_total": true, "apiserver_flowcontrol_current_inqueue_requests": true,
	"apiserver_flowcontrol_current_executing_requests": true, "apiserver_current_inflight_requests": true,
	"apiserver_longrunning_requests": true, "apiserver_watch_events_total": true,
	"etcd_request_duration_seconds": true, "process_resident_memory_bytes": true,
	"process_cpu_seconds_total": true, "process_start_time_seconds": true,
}

// reduceDelimited keeps the wanted length-delimited MetricFamily messages,
// each with its first few series, and the first two other families whole.
func reduceDelimited(t *testing.T, body []byte, series int) []byte {
	var out bytes.Buffer
	others := 0
	r := bufio.NewReader(bytes.NewReader(body))
	for {
		var mf dto.MetricFamily
		err := protodelim.UnmarshalFrom(r, &mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decode delimited /metrics: %v", err)
		}
		switch {
		case wanted[mf.GetName()]:
			mf.Metric = mf.Metric[:min(len(mf.Metric), series)]
		case others < 2:
			others++
		default:
			continue
		}
		if _, err := protodelim.MarshalTo(&out, &mf); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
