package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/churn-dev/churn/profiles"
)

// TemplatesKey is the Setup entry holding the fingerprint of the objects
// churn builds (nodes, namespaces, services, deployments): a churn whose
// object templates changed must not reuse a setup made by an older one.
const TemplatesKey = "templates"

// Setup entries of a snapshot saved with a mesh running (see WithMesh).
const (
	// MeshKey is the mesh's name.
	MeshKey = "mesh.name"
	// MeshObjectsKey is the fingerprint of what the mesh's emulation
	// writes (its CRDs and object shapes): a churn whose mesh objects
	// changed must not reuse ones written by an older one.
	MeshObjectsKey = "mesh.objects"
)

// Setup is what decides the objects a setup creates, by field path
// ("workload.replicas" -> "100"). Two setups with equal entries create the
// same objects; its Hash is what a snapshot is keyed by.
type Setup map[string]string

// SetupOf returns the setup of a defaulted profile. templates is the
// fingerprint of the objects churn builds from it (runner.SetupIdentity
// computes both). Pacing (createQPS), the ready timeout and everything after
// setup (churn, seed, mesh, observers, SLOs) are left out on purpose: they
// do not change which objects exist once the setup is Ready.
func SetupOf(p profiles.Profile, templates string) Setup {
	return Setup{
		"nodes.count":                      strconv.Itoa(p.Nodes.Count),
		"nodes.cpu":                        p.Nodes.CPU,
		"nodes.memory":                     p.Nodes.Memory,
		"nodes.pods":                       strconv.Itoa(p.Nodes.Pods),
		"nodes.zones":                      strconv.Itoa(p.Nodes.Zones),
		"workload.namespaces":              strconv.Itoa(p.Workload.Namespaces),
		"workload.deploymentsPerNamespace": strconv.Itoa(p.Workload.DeploymentsPerNamespace),
		"workload.replicas":                strconv.Itoa(p.Workload.Replicas),
		"workload.image":                   p.Workload.Image,
		TemplatesKey:                       templates,
	}
}

// WithMesh returns a copy of s for a setup that ran mesh while it ramped
// and saved its objects; objects is the emulation's fingerprint of them.
// A setup without a mesh has neither entry, so its hash is unchanged.
func (s Setup) WithMesh(mesh, objects string) Setup {
	out := make(Setup, len(s)+2)
	for k, v := range s {
		out[k] = v
	}
	out[MeshKey] = mesh
	out[MeshObjectsKey] = objects
	return out
}

// Hash is the hex SHA-256 of the entries in key order, one "key=value" line
// each, so it depends on the entries only, never on the order they were
// written in.
func (s Setup) Hash() string {
	h := sha256.New()
	for _, k := range s.keys() {
		fmt.Fprintf(h, "%s=%s\n", k, s[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Diff names every entry that differs, in key order, as
// "workload.replicas 100 vs 50" (s's value first); a key missing on one
// side shows as "(none)".
func (s Setup) Diff(other Setup) []string {
	keys := s.keys()
	for k := range other {
		if _, ok := s[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		a, inS := s[k]
		b, inOther := other[k]
		if inS && inOther && a == b {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s vs %s", k, orNone(a, inS), orNone(b, inOther)))
	}
	return out
}

func (s Setup) keys() []string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orNone(v string, ok bool) string {
	if !ok {
		return "(none)"
	}
	if v == "" {
		return `""`
	}
	return v
}

// ShortHash is the prefix of a hash that messages show.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
