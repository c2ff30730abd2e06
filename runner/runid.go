package runner

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Labels every object a run creates carries; teardown selects on RunLabel.
const (
	RunLabel       = "churn.dev/run"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "churn"
)

// NewRunID returns a sortable, label-safe run ID such as 20261125-181400-3fa2.
func NewRunID(now time.Time) (string, error) {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate run id: %w", err)
	}
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b), nil
}

// RunLabels returns the labels stamped on everything a run creates.
func RunLabels(runID string) map[string]string {
	return map[string]string{RunLabel: runID, ManagedByLabel: ManagedByValue}
}

// RunSelector selects exactly the objects of one run.
func RunSelector(runID string) string {
	return RunLabel + "=" + runID
}

// NamePrefix derives short object-name prefixes from the run ID so that two
// runs on one cluster never collide: "churn-" + the random suffix.
func NamePrefix(runID string) string {
	return "churn-" + runID[len(runID)-4:]
}
