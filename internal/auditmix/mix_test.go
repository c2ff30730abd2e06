package auditmix

import (
	"bytes"
	"strings"
	"testing"
)

// auditLog is shaped like kube-apiserver's JSON audit lines: a WATCH
// logged at ResponseStarted and ResponseComplete, an impersonated LIST, a
// watch-list, a lease update, and a /healthz request without an object.
const auditLog = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseStarted","requestURI":"/api/v1/pods?fieldSelector=status.phase%21%3DFailed\u0026watch=true","verb":"watch","user":{"username":"admin"},"userAgent":"real/1","objectRef":{"resource":"pods","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z"}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/pods?fieldSelector=status.phase%21%3DFailed\u0026watch=true","verb":"watch","user":{"username":"admin"},"userAgent":"real/1","objectRef":{"resource":"pods","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:01.000000Z"}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a2","stage":"ResponseComplete","requestURI":"/api/v1/namespaces?limit=500","verb":"list","user":{"username":"admin"},"impersonatedUser":{"username":"system:serviceaccount:istio-system:istiod"},"userAgent":"emulated/1","objectRef":{"resource":"namespaces","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:02.000000Z"}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a3","stage":"ResponseStarted","requestURI":"/api/v1/namespaces?allowWatchBookmarks=true\u0026resourceVersionMatch=NotOlderThan\u0026sendInitialEvents=true\u0026watch=true","verb":"watch","user":{"username":"admin"},"userAgent":"real/1","objectRef":{"resource":"namespaces","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:03.000000Z"}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a4","stage":"ResponseComplete","requestURI":"/apis/coordination.k8s.io/v1/namespaces/m/leases/l","verb":"update","user":{"username":"admin"},"userAgent":"real/1","objectRef":{"resource":"leases","namespace":"m","name":"l","apiGroup":"coordination.k8s.io","apiVersion":"v1"},"responseStatus":{"code":409},"requestReceivedTimestamp":"2026-01-01T00:00:04.000000Z"}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a5","stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{"username":"admin"},"userAgent":"real/1","responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:05.000000Z"}
`

func TestRead(t *testing.T) {
	reqs, err := Read(strings.NewReader(auditLog))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range reqs {
		got = append(got, r.Verb+" "+r.ResourceName()+" "+r.User+" "+r.FieldSelector)
	}
	want := []string{
		"watch pods admin status.phase!=Failed",
		"list namespaces system:serviceaccount:istio-system:istiod ",
		"watchlist namespaces admin ",
		"update leases.coordination.k8s.io admin ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if reqs[3].Code != 409 || reqs[3].Name != "l" || reqs[3].Namespace != "m" {
		t.Errorf("lease update = %+v, want code 409, m/l", reqs[3])
	}
	if _, err := Read(strings.NewReader("{not json\n")); err == nil {
		t.Error("Read of a malformed line succeeded")
	}
}

func TestCompare(t *testing.T) {
	reqs, err := Read(strings.NewReader(auditLog))
	if err != nil {
		t.Fatal(err)
	}
	real := NewMix(reqs, func(r Request) bool { return r.UserAgent == "real/1" })
	emu := NewMix(reqs, func(r Request) bool { return r.UserAgent == "emulated/1" })
	if real.Total != 3 || emu.Total != 1 {
		t.Fatalf("totals real=%d emulated=%d, want 3 and 1", real.Total, emu.Total)
	}
	c := Compare("real", real, "emulated", emu)
	if c.SameSets() {
		t.Fatal("SameSets() = true for different mixes")
	}
	if len(c.OnlyA) != 3 || len(c.OnlyB) != 1 || c.OnlyB[0] != (Key{"list", "namespaces"}) {
		t.Errorf("OnlyA=%v OnlyB=%v", c.OnlyA, c.OnlyB)
	}
	if len(c.WatchedOnlyA) != 1 || len(c.WatchedOnlyB) != 0 { // both sync namespaces, by LIST or watch-list
		t.Errorf("WatchedOnlyA=%v WatchedOnlyB=%v", c.WatchedOnlyA, c.WatchedOnlyB)
	}
	worst, at := c.MaxDiffPoints()
	if worst != 100 || at != (Key{"list", "namespaces"}) {
		t.Errorf("MaxDiffPoints() = %v %v, want 100 list namespaces", worst, at)
	}
	var buf bytes.Buffer
	if err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"watchlist", "33.3%", "+100.0", "requests only emulated makes: list namespaces", "fields=status.phase!=Failed"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
	if same := Compare("a", real, "b", real); !same.SameSets() {
		t.Error("a mix compared with itself differs")
	}
}
