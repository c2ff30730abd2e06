package observers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/churn-dev/churn/profiles"
)

// settings reads an ObserverSpec's settings, rejecting keys the observer does
// not know so a typo in a profile is an error, not a silent default.
type settings struct {
	spec    profiles.ObserverSpec
	allowed map[string]bool
}

func newSettings(spec profiles.ObserverSpec, allowed ...string) (*settings, error) {
	s := &settings{spec: spec, allowed: map[string]bool{}}
	for _, a := range allowed {
		s.allowed[a] = true
	}
	var unknown []string
	for k := range spec.Settings {
		if !s.allowed[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		sort.Strings(allowed)
		known := strings.Join(allowed, ", ")
		if known == "" {
			known = "none"
		}
		return nil, fmt.Errorf("unknown setting(s) %s (known: %s)", strings.Join(unknown, ", "), known)
	}
	return s, nil
}

// interval is spec.Interval or def; it must be positive.
func (s *settings) interval(def time.Duration) (time.Duration, error) {
	d := s.spec.Interval.Duration
	if d == 0 {
		return def, nil
	}
	if d < 0 {
		return 0, fmt.Errorf("interval %s must be positive", d)
	}
	return d, nil
}

func (s *settings) duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := s.spec.Settings[key]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("setting %s=%q: want a positive duration like 10s", key, v)
	}
	return d, nil
}

func (s *settings) integer(key string, def int) (int, error) {
	v, ok := s.spec.Settings[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("setting %s=%q: want a positive integer", key, v)
	}
	return n, nil
}

func (s *settings) str(key, def string) string {
	if v, ok := s.spec.Settings[key]; ok {
		return v
	}
	return def
}
