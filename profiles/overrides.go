package profiles

import "time"

// Overrides are the flags a user set; nil means "not set", so a flag left at
// its default never overwrites the profile.
type Overrides struct {
	Duration *time.Duration
	Nodes    *int
	Seed     *int64
	Mesh     *string
	// SettleTimeout is --settle-timeout.
	SettleTimeout *time.Duration
}

// Apply returns p with every set override applied.
func (o Overrides) Apply(p Profile) Profile {
	if o.Duration != nil {
		p.Churn.Duration.Duration = *o.Duration
	}
	if o.Nodes != nil {
		p.Nodes.Count = *o.Nodes
	}
	if o.Seed != nil {
		p.Churn.Seed = *o.Seed
	}
	if o.Mesh != nil {
		p.Mesh.Name = *o.Mesh
	}
	if o.SettleTimeout != nil {
		p.Mesh.SettleTimeout.Duration = *o.SettleTimeout
	}
	return p
}
