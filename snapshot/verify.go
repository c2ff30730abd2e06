package snapshot

import (
	"fmt"
	"strings"
)

// Mismatch kinds, in the order Verify checks them.
const (
	MismatchFormat   = "format"
	MismatchVersions = "versions"
	MismatchMesh     = "mesh"
	MismatchSetup    = "setup"
)

// MismatchError says why a snapshot cannot stand in for a run's setup.
type MismatchError struct {
	Snapshot string
	// Kind is MismatchFormat, MismatchVersions, MismatchMesh or
	// MismatchSetup.
	Kind string
	// Differences names each differing item ("workload.replicas 100 vs
	// 50", snapshot's value first).
	Differences []string
	msg         string
}

func (e *MismatchError) Error() string { return e.msg }

// Expectation is what a run would start: its setup and the binaries it
// would run.
type Expectation struct {
	// ProfileName and Setup are the run's profile and its SetupOf; for a
	// run of the snapshot's mesh, with WithMesh applied.
	ProfileName string
	Setup       Setup
	// Mesh is the run's mesh ("" or "none" for none).
	Mesh string
	// Versions are those of the binaries the run would start; BinDir names
	// where they are, for the message.
	Versions Versions
	BinDir   string
}

// Verify checks that m can stand in for the setup want describes: the
// same snapshot format, the same etcd, Kubernetes and kwok versions (etcd
// must read the data; the API server must serve the objects as stored),
// a mesh snapshot only for a run of its own mesh (a snapshot without a mesh
// serves every mesh), and the same setup hash. The first failing check returns a
// *MismatchError naming everything that differs in it. churn's own version
// is not compared: the setup hash covers the objects churn builds.
func Verify(m *Manifest, want Expectation) error {
	if m.FormatVersion != FormatVersion {
		return &MismatchError{Snapshot: m.Name, Kind: MismatchFormat,
			Differences: []string{fmt.Sprintf("format %d vs %d", m.FormatVersion, FormatVersion)},
			msg: fmt.Sprintf("snapshot %q has format version %d but this churn reads format %d; save it again with this churn",
				m.Name, m.FormatVersion, FormatVersion)}
	}
	if diffs := versionDiffs(m.Versions, want.Versions); len(diffs) > 0 {
		return &MismatchError{Snapshot: m.Name, Kind: MismatchVersions, Differences: diffs,
			msg: fmt.Sprintf("snapshot %q was taken with %s but the binaries in %s differ: %s; use the binaries it was taken with, or save it again with these",
				m.Name, m.Versions.components(), want.BinDir, strings.Join(diffs, ", "))}
	}
	if saved, run := m.MeshName(), meshOrNone(want.Mesh); saved != "" && saved != run {
		runs := "this run's mesh is " + run
		if run == "none" {
			runs = "this run has no mesh"
		}
		return &MismatchError{Snapshot: m.Name, Kind: MismatchMesh,
			Differences: []string{fmt.Sprintf("mesh %s vs %s", saved, run)},
			msg: fmt.Sprintf("snapshot %q was saved with mesh %s running and holds its objects, but %s (--mesh %s): start it from a snapshot saved with --mesh %s, or from one saved without a mesh (the run then pays the mesh's install)",
				m.Name, saved, runs, run, run)}
	}
	if hash := want.Setup.Hash(); hash != m.SetupHash {
		diffs := m.Setup.Diff(want.Setup)
		if len(diffs) == 0 {
			// The recorded fields agree but the hash does not: the manifest
			// was edited or hashed by another rule.
			diffs = []string{fmt.Sprintf("setup hash %s vs %s", ShortHash(m.SetupHash), ShortHash(hash))}
		}
		msg := fmt.Sprintf("snapshot %q was taken with profile %s (setup hash %s) but this run's setup (profile %s, setup hash %s) differs: %s",
			m.Name, m.ProfileName, ShortHash(m.SetupHash), want.ProfileName, ShortHash(hash), strings.Join(diffs, ", "))
		if m.Setup[TemplatesKey] != want.Setup[TemplatesKey] {
			msg += fmt.Sprintf("; the objects churn builds (nodes, namespaces, services, deployments) changed since churn %s took it: save it again", m.Versions.Churn)
		}
		if m.Setup[MeshObjectsKey] != want.Setup[MeshObjectsKey] && m.Setup[MeshKey] != "" && want.Setup[MeshKey] != "" {
			msg += fmt.Sprintf("; the objects mesh %s writes changed since churn %s saved it: save it again", m.Setup[MeshKey], m.Versions.Churn)
		}
		return &MismatchError{Snapshot: m.Name, Kind: MismatchSetup, Differences: diffs, msg: msg}
	}
	return nil
}

func meshOrNone(mesh string) string {
	if mesh == "" {
		return "none"
	}
	return mesh
}

func versionDiffs(saved, now Versions) []string {
	var out []string
	for _, c := range []struct{ name, a, b string }{
		{"kubernetes", saved.Kubernetes, now.Kubernetes},
		{"etcd", saved.Etcd, now.Etcd},
		{"kwok", saved.KWOK, now.KWOK},
	} {
		if c.a != c.b {
			out = append(out, fmt.Sprintf("%s %s vs %s", c.name, orNone(c.a, c.a != ""), orNone(c.b, c.b != "")))
		}
	}
	return out
}

func (v Versions) components() string {
	return fmt.Sprintf("kubernetes %s, etcd %s, kwok %s", v.Kubernetes, v.Etcd, v.KWOK)
}
