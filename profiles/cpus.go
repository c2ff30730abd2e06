package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CPUs is controlPlane.cpus: the CPU budget of the local control plane,
// like the size of a control-plane VM. "auto" (the default) sizes it from
// the machine; "off" or 0 sets no budget (CPU weights only); otherwise a
// number of cores written as a Kubernetes CPU quantity, "1.5" or "1500m".
// YAML may give it as a number (cpus: 1.5); it is kept as written.
type CPUs string

// The words controlPlane.cpus takes besides a number of cores.
const (
	CPUsAuto CPUs = "auto"
	CPUsOff  CPUs = "off"
)

// MinControlPlaneMillicores is the smallest budget accepted: below a tenth
// of a core nothing of a control plane starts in time.
const MinControlPlaneMillicores = 100

// maxControlPlaneCores bounds a budget before it is converted to
// millicores, so a typo cannot overflow; the machine check is tighter.
const maxControlPlaneCores = 100000

// cpusPattern is a plain decimal number of cores, or an integer of
// millicores: the forms of a CPU quantity that read as cores.
var cpusPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+|[0-9]+m)$`)

// UnmarshalJSON takes a string or a number.
func (c *CPUs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case bytes.Equal(b, []byte("false")):
		// YAML 1.1, which profiles are read with, turns an unquoted off
		// into false.
		*c = CPUsOff
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("controlPlane.cpus: %w", err)
		}
		*c = CPUs(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("controlPlane.cpus: want a number of cores (1.5 or \"1500m\"), %q or %q, got %s", CPUsAuto, CPUsOff, b)
	}
	*c = CPUs(n.String())
	return nil
}

// CPUSetting is a parsed controlPlane.cpus.
type CPUSetting struct {
	// Auto sizes the budget from the machine's CPUs.
	Auto bool
	// Millicores is an explicit budget; 0 (with Auto false) is none.
	Millicores int64
}

// Parse reads the setting on its own, apart from any machine: "" reads as
// auto. A negative value, one below MinControlPlaneMillicores (other than
// 0), or anything but a plain number of cores is refused.
func (c CPUs) Parse() (CPUSetting, error) {
	s := strings.TrimSpace(string(c))
	switch strings.ToLower(s) {
	case "", string(CPUsAuto):
		return CPUSetting{Auto: true}, nil
	case string(CPUsOff):
		return CPUSetting{}, nil
	case "nan", "+nan", "-nan", ".nan", "inf", "+inf", "-inf", ".inf", "-.inf":
		return CPUSetting{}, fmt.Errorf("not a number of cores")
	}
	if strings.HasPrefix(s, "-") {
		return CPUSetting{}, fmt.Errorf("must not be negative")
	}
	if !cpusPattern.MatchString(s) {
		return CPUSetting{}, fmt.Errorf("want a number of cores such as 1.5 or 1500m, %q or %q", CPUsAuto, CPUsOff)
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return CPUSetting{}, fmt.Errorf("want a number of cores such as 1.5 or 1500m: %w", err)
	}
	if q.Cmp(*resource.NewQuantity(maxControlPlaneCores, resource.DecimalSI)) > 0 {
		return CPUSetting{}, fmt.Errorf("more than %d cores", maxControlPlaneCores)
	}
	if q.IsZero() {
		return CPUSetting{}, nil
	}
	// MilliValue rounds up: 0.0001 cores is 1m, refused below.
	milli := q.MilliValue()
	if milli < MinControlPlaneMillicores {
		return CPUSetting{}, fmt.Errorf("below the minimum of 0.1 cores (0 or %q for no budget)", CPUsOff)
	}
	return CPUSetting{Millicores: milli}, nil
}

// Explicit reports whether the setting asks for a budget of a given size
// (neither auto nor off). An unparsable setting is not.
func (c CPUs) Explicit() bool {
	s, err := c.Parse()
	return err == nil && s.Millicores > 0
}

func (p Profile) validateControlPlaneCPUs(path *field.Path) field.ErrorList {
	if _, err := p.ControlPlane.CPUs.Parse(); err != nil {
		return field.ErrorList{field.Invalid(path, string(p.ControlPlane.CPUs), err.Error())}
	}
	return nil
}
