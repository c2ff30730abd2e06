package observers

import (
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// waitFor polls cond until it holds. The generous bound only catches a
// hang; no assertion depends on how fast the machine is.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

var metav1GetOptions = metav1.GetOptions{}

func itoa(i int) string { return strconv.Itoa(i) }
