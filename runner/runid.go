package runner

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// NewRunID returns a sortable, label-safe run ID such as 20261125-181400-3fa2.
func NewRunID(now time.Time) (string, error) {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate run id: %w", err)
	}
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b), nil
}

// NamePrefix derives short object-name prefixes from the run ID so that two
// runs on one cluster never collide: "churn-" + the random suffix.
func NamePrefix(runID string) string {
	return "churn-" + runID[len(runID)-4:]
}
