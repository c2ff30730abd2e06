package observers

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/churn-dev/churn/profiles"
	"github.com/churn-dev/churn/results"
)

// Every write is seen on the watch, including after the watch breaks and
// is re-established.
func TestWatchPropagationSeesEveryWrite(t *testing.T) {
	client := fake.NewClientset()
	// Keep every watch handle so the test can break the current one.
	watches := make(chan *watch.RaceFreeFakeWatcher, 4)
	client.PrependWatchReactor("configmaps", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewRaceFreeFake()
		watches <- w
		return true, w, nil
	})
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	o, err := New(profiles.ObserverSpec{Name: WatchPropagationName})
	if err != nil {
		t.Fatal(err)
	}
	wp := o.(*watchPropagation)
	wrote := make(chan struct{}, 1)
	wp.afterWrite = func() { wrote <- struct{}{} }
	env := Env{Client: client, Clock: clk, Logger: zaptest.NewLogger(t), RunID: "r1", RunLabelSelector: "churn.dev/run=r1"}
	ctx := context.Background()
	if err := o.Start(ctx, env); err != nil {
		t.Fatal(err)
	}
	w := <-watches
	// Deliver what the patch produced, after the write returned and 300 ms
	// of fake time later: the delay must be exactly 300 ms.
	deliver := func(w *watch.RaceFreeFakeWatcher, seq int) {
		cm, err := client.CoreV1().ConfigMaps("r1-watch").Get(ctx, watchConfigMap, metav1GetOptions)
		if err != nil {
			t.Fatal(err)
		}
		if cm.Annotations[seqAnnotation] != itoa(seq) {
			t.Fatalf("annotation seq = %q, want %d", cm.Annotations[seqAnnotation], seq)
		}
		clk.Step(300 * time.Millisecond)
		w.Modify(cm)
		waitFor(t, func() bool { wp.mu.Lock(); defer wp.mu.Unlock(); return wp.received == seq })
	}
	// Ticks come every second: t0+1s and t0+2s (300 ms of each went by
	// in deliver).
	for seq, step := range []time.Duration{time.Second, 700 * time.Millisecond} {
		waitFor(t, func() bool { return clk.HasWaiters() })
		clk.Step(step)
		<-wrote
		deliver(w, seq+1)
	}
	// Break the watch: the observer re-watches after a back-off.
	w.Stop()
	waitFor(t, func() bool { wp.mu.Lock(); defer wp.mu.Unlock(); return wp.watchRestarts == 1 })
	waitFor(t, func() bool { return clk.Waiters() >= 2 }) // ticker + back-off
	clk.Step(time.Second)                                 // t0+3.3s: back-off over, tick at t0+3s writes 3
	w = <-watches
	<-wrote
	deliver(w, 3)

	if err := o.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r := &results.Result{}
	if err := o.Summarize(r); err != nil {
		t.Fatal(err)
	}
	var s WatchPropagationSummary
	if _, err := GetObserver(r, WatchPropagationName, &s); err != nil {
		t.Fatal(err)
	}
	if s.Writes != 3 || s.Received != 3 || s.Lost != 0 || s.WatchRestarts != 1 {
		t.Errorf("writes %d received %d lost %d restarts %d, want 3 3 0 1", s.Writes, s.Received, s.Lost, s.WatchRestarts)
	}
	if s.DelayAll.Count != 3 || s.DelayAll.P99 != 0.3 || s.DelayAll.P50 != 0.3 {
		t.Errorf("delay = %+v, want 3 samples of 300ms", s.DelayAll)
	}
}

// An event that beats the write's response counts as zero delay; one that
// never comes is lost after a minute.
func TestWatchPropagationOrderAndLoss(t *testing.T) {
	t0 := time.Unix(5000, 0)
	clk := clocktesting.NewFakeClock(t0)
	wp := &watchPropagation{pending: map[int64]*propWrite{}, env: Env{Clock: clk, Logger: zaptest.NewLogger(t)}}
	wp.pending[1] = &propWrite{sent: t0}
	clk.Step(100 * time.Millisecond)
	wp.arrived("1") // before the response
	if len(wp.delays) != 0 {
		t.Fatal("recorded before the write returned")
	}
	wp.mu.Lock()
	wp.pending[1].returned = t0.Add(200 * time.Millisecond)
	wp.finish(1, wp.pending[1])
	wp.pending[2] = &propWrite{sent: t0, returned: t0}
	wp.expireLocked(t0.Add(2 * time.Minute))
	wp.mu.Unlock()
	if len(wp.delays) != 1 || wp.delays[0].V != 0 || wp.fromSend[0].V != 0.1 {
		t.Errorf("delays %v fromSend %v, want 0 and 0.1", wp.delays, wp.fromSend)
	}
	if wp.lost != 1 || len(wp.pending) != 0 {
		t.Errorf("lost %d pending %d, want 1 and 0", wp.lost, len(wp.pending))
	}
}
