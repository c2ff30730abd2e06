package auditmix

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// Key is one (verb, resource) pair.
type Key struct {
	Verb     string
	Resource string
}

func (k Key) String() string { return k.Verb + " " + k.Resource }

// Watch is one watched collection: a resource with its selectors.
type Watch struct {
	Resource      string
	LabelSelector string
	FieldSelector string
}

func (w Watch) String() string {
	s := w.Resource
	if w.LabelSelector != "" {
		s += " labels=" + w.LabelSelector
	}
	if w.FieldSelector != "" {
		s += " fields=" + w.FieldSelector
	}
	return s
}

// Mix is a client's requests counted per (verb, resource), and the
// collections it lists or watches.
type Mix struct {
	Counts  map[Key]int
	Total   int
	Watched map[Watch]bool
}

// NewMix counts the requests keep selects.
func NewMix(reqs []Request, keep func(Request) bool) Mix {
	m := Mix{Counts: map[Key]int{}, Watched: map[Watch]bool{}}
	for _, r := range reqs {
		if !keep(r) {
			continue
		}
		m.Counts[Key{Verb: r.Verb, Resource: r.ResourceName()}]++
		m.Total++
		// A LIST or WATCH with a metadata.name field selector carries the
		// name in the audit record; it is still a collection request.
		if r.IsCollection() {
			m.Watched[Watch{Resource: r.ResourceName(), LabelSelector: r.LabelSelector, FieldSelector: r.FieldSelector}] = true
		}
	}
	return m
}

// Share is the fraction of the mix's requests that are k.
func (m Mix) Share(k Key) float64 {
	if m.Total == 0 {
		return 0
	}
	return float64(m.Counts[k]) / float64(m.Total)
}

// Row is one (verb, resource) of a comparison.
type Row struct {
	Key            Key
	CountA, CountB int
	// ShareA and ShareB are fractions of each side's total.
	ShareA, ShareB float64
}

// DiffPoints is the share difference in percentage points (B - A).
func (r Row) DiffPoints() float64 { return 100 * (r.ShareB - r.ShareA) }

// Comparison is two mixes side by side.
type Comparison struct {
	NameA, NameB   string
	TotalA, TotalB int
	Rows           []Row
	// OnlyA and OnlyB are the (verb, resource) pairs one side makes and
	// the other does not.
	OnlyA, OnlyB []Key
	// WatchedOnlyA and WatchedOnlyB are the collections (with selectors)
	// one side lists or watches and the other does not.
	WatchedOnlyA, WatchedOnlyB []Watch
}

// Compare puts a and b side by side, rows sorted by resource then verb.
func Compare(nameA string, a Mix, nameB string, b Mix) Comparison {
	c := Comparison{NameA: nameA, NameB: nameB, TotalA: a.Total, TotalB: b.Total}
	keys := map[Key]bool{}
	for k := range a.Counts {
		keys[k] = true
	}
	for k := range b.Counts {
		keys[k] = true
	}
	for k := range keys {
		row := Row{Key: k, CountA: a.Counts[k], CountB: b.Counts[k], ShareA: a.Share(k), ShareB: b.Share(k)}
		c.Rows = append(c.Rows, row)
		switch {
		case row.CountA == 0:
			c.OnlyB = append(c.OnlyB, k)
		case row.CountB == 0:
			c.OnlyA = append(c.OnlyA, k)
		}
	}
	sort.Slice(c.Rows, func(i, j int) bool { return keyLess(c.Rows[i].Key, c.Rows[j].Key) })
	sortKeys(c.OnlyA)
	sortKeys(c.OnlyB)
	c.WatchedOnlyA = watchDiff(a.Watched, b.Watched)
	c.WatchedOnlyB = watchDiff(b.Watched, a.Watched)
	return c
}

func keyLess(a, b Key) bool {
	if a.Resource != b.Resource {
		return a.Resource < b.Resource
	}
	return a.Verb < b.Verb
}

func sortKeys(ks []Key) { sort.Slice(ks, func(i, j int) bool { return keyLess(ks[i], ks[j]) }) }

func watchDiff(a, b map[Watch]bool) []Watch {
	var out []Watch
	for w := range a {
		if !b[w] {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// SameSets reports whether both sides make the same (verb, resource)
// pairs and watch the same collections.
func (c Comparison) SameSets() bool {
	return len(c.OnlyA)+len(c.OnlyB)+len(c.WatchedOnlyA)+len(c.WatchedOnlyB) == 0
}

// MaxDiffPoints is the largest share difference of any row, in
// percentage points, and its key.
func (c Comparison) MaxDiffPoints() (float64, Key) {
	var worst float64
	var at Key
	for _, r := range c.Rows {
		if d := math.Abs(r.DiffPoints()); d > worst {
			worst, at = d, r.Key
		}
	}
	return worst, at
}

// Write prints the comparison as a table followed by the set differences.
func (c Comparison) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "verb\tresource\t%s\t%s share\t%s\t%s share\tdiff (pp)\t\n", c.NameA, c.NameA, c.NameB, c.NameB)
	for _, r := range c.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%d\t%.1f%%\t%+.1f\t\n",
			r.Key.Verb, r.Key.Resource, r.CountA, 100*r.ShareA, r.CountB, 100*r.ShareB, r.DiffPoints())
	}
	fmt.Fprintf(tw, "total\t\t%d\t\t%d\t\t\t\n", c.TotalA, c.TotalB)
	if err := tw.Flush(); err != nil {
		return err
	}
	if worst, at := c.MaxDiffPoints(); worst > 0 {
		fmt.Fprintf(w, "largest share difference: %.1f pp (%s)\n", worst, at)
	} else {
		fmt.Fprintln(w, "largest share difference: none")
	}
	lists := []struct {
		label string
		n     int
		items func() []string
	}{
		{"requests only " + c.NameA + " makes", len(c.OnlyA), func() []string { return keyStrings(c.OnlyA) }},
		{"requests only " + c.NameB + " makes", len(c.OnlyB), func() []string { return keyStrings(c.OnlyB) }},
		{"collections only " + c.NameA + " watches", len(c.WatchedOnlyA), func() []string { return watchStrings(c.WatchedOnlyA) }},
		{"collections only " + c.NameB + " watches", len(c.WatchedOnlyB), func() []string { return watchStrings(c.WatchedOnlyB) }},
	}
	for _, l := range lists {
		if l.n == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s: %s\n", l.label, strings.Join(l.items(), "; ")); err != nil {
			return err
		}
	}
	return nil
}

func keyStrings(ks []Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}

func watchStrings(ws []Watch) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}
