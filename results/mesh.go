package results

// MeshSummary is what the emulated mesh components did and saw.
// Owned by package agents.
type MeshSummary struct {
	Name       string             `json:"name"`
	Components []ComponentSummary `json:"components"`
}

// ComponentSummary aggregates all replicas of one mesh component.
type ComponentSummary struct {
	Name     string `json:"name"`
	Replicas int    `json:"replicas"`
}
