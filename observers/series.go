package observers

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Point is one sample of a time series. In JSON it is a compact
// [unixMilliseconds, value] pair so hour-long series stay small.
type Point struct {
	T time.Time
	V float64
}

// MarshalJSON encodes p as [unixMilli, value].
func (p Point) MarshalJSON() ([]byte, error) {
	v := p.V
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return json.Marshal([2]float64{float64(p.T.UnixMilli()), v})
}

// UnmarshalJSON decodes [unixMilli, value].
func (p *Point) UnmarshalJSON(b []byte) error {
	var a [2]float64
	if err := json.Unmarshal(b, &a); err != nil {
		return fmt.Errorf("decode point: %w", err)
	}
	p.T = time.UnixMilli(int64(a[0])).UTC()
	p.V = a[1]
	return nil
}

// Series is one named time series an observer keeps for the report.
type Series struct {
	Name   string  `json:"name"`
	Unit   string  `json:"unit"`
	Points []Point `json:"points"`
}

// Units of series and SLOs.
const (
	UnitSeconds = "seconds"
	UnitBytes   = "bytes"
	UnitCores   = "cores"
	UnitPerSec  = "per-second"
	UnitCount   = "count"
	UnitRatio   = "ratio"
)

// Span is the time range a summary judged.
type Span struct {
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	Label string    `json:"label"`
}

// FindSeries returns the series named name, or nil.
func FindSeries(all []Series, name string) *Series {
	for i := range all {
		if all[i].Name == name {
			return &all[i]
		}
	}
	return nil
}

// finite maps NaN and infinities to 0 so JSON encoding never fails.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
