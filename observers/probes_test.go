package observers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
	"github.com/churn-dev/churn/selfmetrics"
)

func TestClassifyError(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443", Err: &net.OpError{
		Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{apierrors.NewTooManyRequests("slow down", 1), Error429},
		{apierrors.NewInternalError(errors.New("boom")), Error5xx},
		{apierrors.NewServiceUnavailable("unavailable"), Error5xx},
		{apierrors.NewTimeoutError("timeout", 1), ErrorTimeout},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), ErrorTimeout},
		{refused, ErrorRefused},
		{apierrors.NewNotFound(gr, "x"), ErrorOther},
		{errors.New("weird"), ErrorOther},
	}
	for _, c := range cases {
		if got := classifyError(c.err); got != c.want {
			t.Errorf("classifyError(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// Reactors make GET answer 429, namespace LISTs 500, cluster LISTs time
// out and creates be refused; each failure is classified and counted in
// the summary and in churn's own metrics.
func TestProbesClassifyFailures(t *testing.T) {
	client := fake.NewClientset()
	fail := false
	react := func(verb, resource string, err error, when func(k8stesting.Action) bool) {
		client.PrependReactor(verb, resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
			if fail && when(a) {
				return true, nil, err
			}
			return false, nil, nil
		})
	}
	always := func(k8stesting.Action) bool { return true }
	react("get", "configmaps", apierrors.NewTooManyRequests("slow down", 1), always)
	react("list", "pods", apierrors.NewInternalError(errors.New("boom")), func(a k8stesting.Action) bool { return a.GetNamespace() != "" })
	react("list", "pods", fmt.Errorf("list: %w", context.DeadlineExceeded), func(a k8stesting.Action) bool { return a.GetNamespace() == "" })
	react("create", "configmaps", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
		func(a k8stesting.Action) bool {
			return a.(k8stesting.CreateAction).GetObject().(metav1.Object).GetName() != probeConfigMap
		})

	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	o, err := New(profiles.ObserverSpec{Name: ProbesName})
	if err != nil {
		t.Fatal(err)
	}
	p := o.(*probes)
	rounds := make(chan string, 16)
	p.afterProbe = func(name string) { rounds <- name }
	m := selfmetrics.New()
	env := Env{Client: client, Clock: clk, Logger: zaptest.NewLogger(t), RunID: "Run_42", RunLabelSelector: "churn.dev/run=42", Metrics: m}
	ctx := context.Background()
	if err := o.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	ns, err := client.CoreV1().Namespaces().Get(ctx, "run-42-probe", metav1.GetOptions{})
	if err != nil || ns.Labels["churn.dev/run"] != "42" {
		t.Fatalf("probe namespace %v labels %v, want run-42-probe with the run label", err, ns)
	}
	step := func() {
		waitFor(t, func() bool { return clk.Waiters() >= 4 })
		clk.Step(time.Second)
		for range 4 {
			<-rounds
		}
	}
	step() // one healthy round
	fail = true
	step()
	step()
	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, "run-42-probe", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("probe namespace still there after Stop: %v", err)
	}
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	var s ProbesSummary
	if _, err := GetObserver(r, ProbesName, &s); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		calls  int
		class  string
		errors int
		timed  int
	}{
		ProbeGet:           {3, Error429, 2, 3},
		ProbeListNamespace: {3, Error5xx, 2, 3},
		ProbeListCluster:   {3, ErrorTimeout, 2, 3},
		ProbeCreate:        {3, ErrorRefused, 2, 1}, // refused calls carry no latency
		ProbeDelete:        {1, "", 0, 1},
	}
	for _, st := range s.Probes {
		w := want[st.Probe]
		if st.Calls != w.calls || st.Errors[w.class] != w.errors || errorCount(st.Errors) != w.errors || st.All.Count != w.timed {
			t.Errorf("probe %s: calls %d errors %v timed %d, want %d calls, %d x %q, %d timed",
				st.Probe, st.Calls, st.Errors, st.All.Count, w.calls, w.errors, w.class, w.timed)
		}
	}
	if got := testutil.ToFloat64(m.ProbeErrors.WithLabelValues(ProbeGet, Error429)); got != 2 {
		t.Errorf("churn_probe_errors_total{get,429} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.ObserverUp.WithLabelValues(ProbesName)); got != 0 {
		t.Errorf("churn_observer_up{probes} = %v after Stop, want 0", got)
	}
}

func TestObserverNamespace(t *testing.T) {
	long := "A-very_long.run.ID-that-keeps-going-and-going-and-going-on-and-on"
	cases := map[string]string{
		"20260101-1200-ab12": "20260101-1200-ab12-probe",
		"":                   "churn-probe",
		long:                 "a-very-long-run-id-that-keeps-going-and-going-and-going-o-probe",
	}
	for in, want := range cases {
		got := observerNamespace(in, "probe")
		if got != want || len(got) > maxDNSLabel {
			t.Errorf("observerNamespace(%q) = %q, want %q", in, got, want)
		}
	}
}
