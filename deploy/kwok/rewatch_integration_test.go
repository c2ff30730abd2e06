package kwok_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/churn-dev/churn/deploy/local"
	"github.com/churn-dev/churn/fakenodes"
	"github.com/churn-dev/churn/internal/testenv"
)

// kwokUser is the user the local control plane's kwok authenticates as
// (deploy/local/pki.go); its User-Agent is "kwok/<version> (...)". Both
// are matched: this test binary's own requests say "kwok.test/...".
const kwokUser = "churn-kwok"

// otherKWOKEnv names a kwok binary to test in place of bin/kwok, e.g. one
// built without 0001-informer-keep-watch-resourceversion.patch, to see this
// test fail on the bug it guards.
const otherKWOKEnv = "CHURN_TEST_KWOK"

// kwok's informers must resume their watches where they left off. Upstream
// kwok (v0.7.0 and later) starts every List and Watch of its informers at
// resourceVersion 0, so each watch restart replays the whole collection
// (50,000 pods at 50k-pods) until the API server drops kwok as an
// unresponsive watcher; make builds kwok with a patch against that
// (deploy/controlplane/patches/kwok). This test ends all of kwok's watches
// by killing kube-apiserver, and reads from the API server's audit log how
// kwok came back.
func TestIntegrationKWOKRewatchResourceVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := testenv.RequireBinaries(t)
	if other := os.Getenv(otherKWOKEnv); other != "" {
		bin = binDirWithKWOK(t, bin, other)
	}
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit", "audit.log")
	c := testenv.StartCluster(ctx, t, local.Options{
		Dir: filepath.Join(dir, "cluster"), BinDir: bin,
		Audit: local.AuditOptions{LogPath: auditLog},
	})
	t.Cleanup(func() {
		if t.Failed() {
			logTail(t, filepath.Join(c.Dir(), "logs", local.KWOK+".log"))
		}
	})
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}

	const nodeCount, podCount = 3, 30
	nodes, err := fakenodes.Create(ctx, cs, fakenodes.Spec{Count: nodeCount}, testenv.LogWriter(t))
	if err != nil {
		t.Fatalf("creating fake nodes: %v", err)
	}
	if err := fakenodes.WaitReady(ctx, cs, fakenodes.LabelSelector, nodeCount, testenv.LogWriter(t)); err != nil {
		t.Fatal(err)
	}
	for i := range podCount {
		createPodOn(ctx, t, cs, fmt.Sprintf("rewatch-%d", i), nodes[i%len(nodes)])
	}
	waitPodsRunning(ctx, t, cs, podCount)

	// The positive control: kwok's initial list and watch of pods are in
	// the log, so an audit log that records nothing cannot pass. A failure
	// here goes on to the restart, to report that too.
	before := readKWOKRequests(t, auditLog)
	logRequests(t, "kwok's collection requests before the restart", before)
	if problems := checkKWOKStart(before); len(problems) > 0 {
		t.Errorf("before the restart:\n  %s", strings.Join(problems, "\n  "))
	}

	killedAt := time.Now()
	if err := c.Kill(local.APIServer, time.Second, "kwok re-watch test"); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "kube-apiserver serving again", func() (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	// client-go backs off up to ~30s between attempts while the server is
	// down, so kwok may come back well after the server does.
	poll(ctx, t, "kwok watching pods again", func() (bool, error) {
		for _, r := range readKWOKRequests(t, auditLog) {
			if r.Received.After(killedAt) && r.Verb == "watch" && r.isPodInformer() {
				t.Logf("kwok re-watched pods %s after the kill, at resourceVersion %q", r.Received.Sub(killedAt).Round(time.Millisecond), r.ResourceVersion)
				return true, nil
			}
		}
		return false, nil
	})
	// The resumed watch delivers new pods: one created now is played to
	// Running.
	createPodOn(ctx, t, cs, "rewatch-after-restart", nodes[0])
	waitPodsRunning(ctx, t, cs, podCount+1)

	var after []auditRequest
	for _, r := range readKWOKRequests(t, auditLog) {
		if r.Received.After(killedAt) {
			after = append(after, r)
		}
	}
	logRequests(t, "kwok's collection requests after the restart", after)
	if problems := checkKWOKRewatch(after); len(problems) > 0 {
		t.Fatalf("after the restart kwok asked for whole collections again (upstream kwok's resourceVersion 0 bug; is bin/kwok built with deploy/controlplane/patches/kwok?):\n  %s",
			strings.Join(problems, "\n  "))
	}
}

// TestKWOKRewatchChecks runs the checks on the requests upstream kwok
// v0.8.0 and the patched one make, so the integration test is known to tell
// them apart.
func TestKWOKRewatchChecks(t *testing.T) {
	req := func(verb, resource, fieldSelector, rv string) auditRequest {
		return auditRequest{Verb: verb, Resource: resource, FieldSelector: fieldSelector, ResourceVersion: rv, HasResourceVersion: rv != "-"}
	}
	const informer = "spec.nodeName!="
	patchedStart := []auditRequest{
		req("list", "pods", informer, "0"), req("watch", "pods", informer, "812"),
		req("list", "nodes", "", "0"), req("watch", "nodes", "", "812"),
	}
	upstreamStart := []auditRequest{
		req("list", "pods", informer, "0"), req("watch", "pods", informer, "0"),
		req("list", "nodes", "", "0"), req("watch", "nodes", "", "0"),
	}
	patchedRewatch := []auditRequest{
		req("watch", "pods", informer, "812"),
		// After "410 Gone" the reflector lists at its last resourceVersion.
		req("list", "pods", informer, "812"), req("watch", "pods", informer, "950"),
		// A list after its resourceVersion expired reads from etcd.
		req("list", "leases", "", "-"), req("watch", "leases", "", "951"),
		// The one-shot per-node sync keeps upstream's resourceVersion 0.
		req("list", "pods", "spec.nodeName=churn-node-0", "0"),
		req("list", "nodes", "metadata.name=churn-node-0", "0"),
	}
	upstreamRewatch := []auditRequest{
		req("list", "pods", informer, "0"), req("watch", "pods", informer, "0"),
		req("watch", "nodes", "", "0"),
	}
	if p := checkKWOKStart(patchedStart); len(p) > 0 {
		t.Errorf("patched kwok's start flagged: %v", p)
	}
	if p := checkKWOKStart(upstreamStart); len(p) != 2 {
		t.Errorf("upstream kwok's start: %d problems %v, want its two watches at resourceVersion 0", len(p), p)
	}
	if p := checkKWOKStart(nil); len(p) != 2 {
		t.Errorf("no requests at all: %d problems %v, want the missing pod list and watch", len(p), p)
	}
	if p := checkKWOKRewatch(patchedRewatch); len(p) > 0 {
		t.Errorf("patched kwok's re-watch flagged: %v", p)
	}
	if p := checkKWOKRewatch(upstreamRewatch); len(p) != 3 {
		t.Errorf("upstream kwok's re-watch: %d problems %v, want its list and two watches at resourceVersion 0", len(p), p)
	}
	if p := checkKWOKRewatch([]auditRequest{req("watch", "pods", informer, "-")}); len(p) != 1 {
		t.Errorf("a watch without resourceVersion (which also replays everything) not flagged: %v", p)
	}
	if p := checkKWOKRewatch(nil); len(p) != 1 {
		t.Errorf("no re-watch at all: %v, want it flagged", p)
	}
}

// auditRequest is one collection request (list or watch) from the audit log.
type auditRequest struct {
	Received           time.Time
	Verb               string
	Resource           string
	FieldSelector      string
	LabelSelector      string
	ResourceVersion    string
	HasResourceVersion bool
}

func (r auditRequest) String() string {
	rv := "none"
	if r.HasResourceVersion {
		rv = fmt.Sprintf("%q", r.ResourceVersion)
	}
	return fmt.Sprintf("%s %s fieldSelector=%q resourceVersion=%s at %s", r.Verb, r.Resource, r.FieldSelector, rv, r.Received.Format("15:04:05.000"))
}

// isPodInformer is kwok's pod informer (every pod bound to a node), not its
// one-shot sync of the pods of one node.
func (r auditRequest) isPodInformer() bool {
	return r.Resource == "pods" && !isOneObjectSelector(r.FieldSelector)
}

// isOneObjectSelector matches the selectors of kwok's one-shot Sync, which
// keeps resourceVersion 0 on purpose: the pods of one node, or one node.
func isOneObjectSelector(s string) bool {
	for _, prefix := range []string{"spec.nodeName=", "metadata.name="} {
		if v, ok := strings.CutPrefix(s, prefix); ok && v != "" && !strings.Contains(v, ",") {
			return true
		}
	}
	return false
}

// replays reports whether the request asks for the whole collection from
// scratch: a watch at resourceVersion 0 or none starts with every object
// as ADDED, and a list at 0 is what upstream kwok sends before each such
// watch.
func (r auditRequest) replays() bool {
	if r.Verb == "watch" {
		return !r.HasResourceVersion || r.ResourceVersion == "" || r.ResourceVersion == "0"
	}
	return r.HasResourceVersion && r.ResourceVersion == "0"
}

// checkKWOKStart checks kwok's first requests: its pod informer's list and
// watch are there, and its informers' watches start from their lists'
// resourceVersion, not from 0.
func checkKWOKStart(reqs []auditRequest) []string {
	var problems []string
	var podList, podWatch bool
	for _, r := range reqs {
		if r.isPodInformer() {
			podList = podList || r.Verb == "list"
			podWatch = podWatch || r.Verb == "watch"
		}
		if r.Verb == "watch" && r.replays() {
			problems = append(problems, "watch from scratch: "+r.String())
		}
	}
	if !podList {
		problems = append(problems, "no list of pods by kwok in the audit log")
	}
	if !podWatch {
		problems = append(problems, "no watch of pods by kwok in the audit log")
	}
	return problems
}

// checkKWOKRewatch checks kwok's requests after its watches ended: it
// watches pods again, and neither its watches nor its lists start from
// resourceVersion 0 (kwok's one-shot per-node sync aside).
func checkKWOKRewatch(reqs []auditRequest) []string {
	var problems []string
	rewatched := false
	for _, r := range reqs {
		if r.Verb == "watch" && r.isPodInformer() {
			rewatched = true
		}
		if r.replays() && !isOneObjectSelector(r.FieldSelector) {
			problems = append(problems, "whole collection again: "+r.String())
		}
	}
	if !rewatched {
		problems = append(problems, "kwok did not watch pods again")
	}
	return problems
}

// readKWOKRequests reads kwok's lists and watches from the audit log, each
// request once (a watch is logged when its response starts and again when
// it ends).
func readKWOKRequests(t *testing.T, path string) []auditRequest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open audit log: %v", err)
	}
	defer f.Close()
	type event struct {
		AuditID    string    `json:"auditID"`
		Verb       string    `json:"verb"`
		RequestURI string    `json:"requestURI"`
		UserAgent  string    `json:"userAgent"`
		Received   time.Time `json:"requestReceivedTimestamp"`
		User       struct {
			Username string `json:"username"`
		} `json:"user"`
		ObjectRef *struct {
			Resource    string `json:"resource"`
			Subresource string `json:"subresource"`
		} `json:"objectRef"`
	}
	var out []auditRequest
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			// kube-apiserver killed mid-line leaves a torn last line.
			continue
		}
		if seen[ev.AuditID] || ev.User.Username != kwokUser || !strings.HasPrefix(ev.UserAgent, "kwok/") ||
			(ev.Verb != "list" && ev.Verb != "watch") || ev.ObjectRef == nil || ev.ObjectRef.Subresource != "" {
			continue
		}
		seen[ev.AuditID] = true
		u, err := url.ParseRequestURI(ev.RequestURI)
		if err != nil {
			t.Fatalf("audit event %s: request URI %q: %v", ev.AuditID, ev.RequestURI, err)
		}
		q := u.Query()
		out = append(out, auditRequest{
			Received: ev.Received, Verb: ev.Verb, Resource: ev.ObjectRef.Resource,
			FieldSelector: q.Get("fieldSelector"), LabelSelector: q.Get("labelSelector"),
			ResourceVersion: q.Get("resourceVersion"), HasResourceVersion: q.Has("resourceVersion"),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading audit log: %v", err)
	}
	return out
}

func logRequests(t *testing.T, title string, reqs []auditRequest) {
	t.Helper()
	lines := make([]string, len(reqs))
	for i, r := range reqs {
		lines[i] = r.String()
	}
	t.Logf("%s (%d):\n  %s", title, len(reqs), strings.Join(lines, "\n  "))
}

// logTail logs the end of a process' log, for a failure's post-mortem.
func logTail(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no log to show: %v", err)
		return
	}
	const max = 8 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	t.Logf("end of %s:\n%s", path, b)
}

// createPodOn creates a pod bound to node, bypassing the scheduler, for
// kwok to play.
func createPodOn(ctx context.Context, t *testing.T, cs kubernetes.Interface, name, node string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "kwok-rewatch"}},
		Spec: corev1.PodSpec{
			NodeName:    node,
			Tolerations: []corev1.Toleration{fakenodes.Toleration()},
			Containers:  []corev1.Container{{Name: "app", Image: "fake.invalid/app:1"}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
}

func waitPodsRunning(ctx context.Context, t *testing.T, cs kubernetes.Interface, want int) {
	t.Helper()
	poll(ctx, t, fmt.Sprintf("%d pods Running", want), func() (bool, error) {
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=kwok-rewatch"})
		if err != nil {
			return false, nil // the API server may be restarting
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == want, nil
	})
}

// binDirWithKWOK is a bin directory with bin's binaries and kwok replaced.
func binDirWithKWOK(t *testing.T, bin, kwokBinary string) string {
	t.Helper()
	abs, err := filepath.Abs(kwokBinary)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("%s=%s: %v", otherKWOKEnv, kwokBinary, err)
	}
	dir := t.TempDir()
	for _, name := range []string{local.Etcd, local.APIServer, local.ControllerManager, local.Scheduler} {
		if err := os.Symlink(filepath.Join(bin, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(abs, filepath.Join(dir, local.KWOK)); err != nil {
		t.Fatal(err)
	}
	t.Logf("testing kwok %s (%s)", abs, otherKWOKEnv)
	return dir
}
