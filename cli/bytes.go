package cli

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
)

// parseBytes reads a Kubernetes quantity such as 4Gi or 512M.
func parseBytes(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("not a byte quantity (want e.g. 4Gi): %w", err)
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("must be positive")
	}
	return q.Value(), nil
}

