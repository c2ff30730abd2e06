package observers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/churn-dev/churn/profiles"
)

// Observer names, as profiles list them.
const (
	APIServerMetricsName = "apiserver-metrics"
	ProbesName           = "probes"
	AvailabilityName     = "availability"
	WatchPropagationName = "watch-propagation"
	ProcessesName        = "processes"
	PodStartupName       = "pod-startup"
)

type constructor func(spec profiles.ObserverSpec) (Observer, error)

// constructors is the immutable registry of observers by name.
var constructors = map[string]constructor{
	APIServerMetricsName: newAPIServerMetrics,
	ProbesName:           newProbes,
	AvailabilityName:     newAvailability,
	WatchPropagationName: newWatchPropagation,
	ProcessesName:        newProcesses,
	PodStartupName:       newPodStartup,
}

// New builds the observer a profile names; an unknown name or setting is an
// error.
func New(spec profiles.ObserverSpec) (Observer, error) {
	c, ok := constructors[spec.Name]
	if !ok {
		return nil, fmt.Errorf("unknown observer %q (known: %s)", spec.Name, strings.Join(Names(), ", "))
	}
	o, err := c(spec)
	if err != nil {
		return nil, fmt.Errorf("observer %s: %w", spec.Name, err)
	}
	return o, nil
}

// Known reports whether name is a registered observer.
func Known(name string) bool {
	_, ok := constructors[name]
	return ok
}

// Names lists the registered observers, sorted.
func Names() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultSpecs is every observer with its default settings, for profiles
// that list none.
func DefaultSpecs() []profiles.ObserverSpec {
	names := Names()
	specs := make([]profiles.ObserverSpec, len(names))
	for i, n := range names {
		specs[i] = profiles.ObserverSpec{Name: n}
	}
	return specs
}
