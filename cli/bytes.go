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
	// Value rounds a fraction of a byte up, and wraps silently past int64:
	// a result below the quantity is such a wrap.
	n := q.Value()
	if n <= 0 || q.Cmp(*resource.NewQuantity(n, resource.BinarySI)) > 0 {
		return 0, fmt.Errorf("%s is too large (at most %d bytes)", s, int64(^uint64(0)>>1))
	}
	return n, nil
}
