package observers

import (
	"testing"
	"time"
)

// Scrapes every 5 s; the judged phase runs from 12 s to 42 s. Only steps
// whose whole delta lies inside count: (15,20] .. (35,40].
func TestStepRangeKeepsOnlyStepsInsideThePhase(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	for s := 0; s <= 50; s += 5 {
		times = append(times, t0.Add(time.Duration(s)*time.Second))
	}
	a, b, ok := stepRange(times, t0.Add(12*time.Second), t0.Add(42*time.Second))
	if !ok || a != 4 || b != 8 {
		t.Fatalf("stepRange = %d, %d, %v; want 4 (15-20s), 8 (35-40s), true", a, b, ok)
	}
	// A phase shorter than a scrape interval falls back to overlapping steps.
	a, b, ok = stepRange(times, t0.Add(12*time.Second), t0.Add(13*time.Second))
	if !ok || a != 3 || b != 3 {
		t.Fatalf("short phase: stepRange = %d, %d, %v; want 3, 3, true", a, b, ok)
	}
}
