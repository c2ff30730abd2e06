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

// formatBytes prints a size in binary units, e.g. 1.5 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
