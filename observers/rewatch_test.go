package observers

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"
)

// A watch that ends resumes from the last resourceVersion seen; one that
// answers 410 Gone resumes from a fresh resourceVersion.
func TestResumingWatchResumesAndRelistsOnGone(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var opened []string
	watchers := make(chan *watch.FakeWatcher, 3)
	var handled []string
	restarts := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := resumingWatch{
		open: func(_ context.Context, rv string) (watch.Interface, error) {
			mu.Lock()
			opened = append(opened, rv)
			mu.Unlock()
			fw := watch.NewFakeWithChanSize(4, false)
			watchers <- fw
			return fw, nil
		},
		fresh: func(context.Context) (string, error) { return "100", nil },
		handle: func(ev watch.Event) {
			mu.Lock()
			handled = append(handled, ev.Object.(metav1.Object).GetResourceVersion())
			mu.Unlock()
		},
		restarted: func() { mu.Lock(); restarts++; mu.Unlock() },
		clock:     clk,
		logger:    zaptest.NewLogger(t),
	}
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx, "1") }()

	pod := func(rv string) *corev1.Pod { return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}} }
	first := <-watchers
	first.Add(pod("5"))
	first.Modify(pod("7"))
	first.Stop() // the server ended the watch
	waitFor(t, clk.HasWaiters)
	clk.Step(rewatchBackoff)

	second := <-watchers
	second.Error(&metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired})
	waitFor(t, clk.HasWaiters)
	clk.Step(rewatchBackoff)

	<-watchers
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"1", "7", "100"}; len(opened) != 3 || opened[0] != want[0] || opened[1] != want[1] || opened[2] != want[2] {
		t.Errorf("watches opened from %v, want %v", opened, want)
	}
	if len(handled) != 2 || restarts != 2 {
		t.Errorf("handled %v, restarts %d; want [5 7] and 2", handled, restarts)
	}
}
