package snapshot

import (
	"fmt"
	"strings"
)

// Mismatch kinds, in the order Verify checks them.
const (
	MismatchFormat   = "format"
	MismatchVersions = "versions"
	MismatchSetup    = "setup"
)

// MismatchError says why a snapshot cannot stand in for a run's setup.
type MismatchError struct {
	Snapshot string
	// Kind is MismatchFormat, MismatchVersions or MismatchSetup.
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
	// ProfileName and Setup are the run's profile and its SetupOf.
	ProfileName string
	Setup       Setup
	// Versions are those of the binaries the run would start; BinDir names
	// where they are, for the message.
	Versions Versions
	BinDir   string
}

// Verify checks that m can stand in for the setup want describes: the
// same snapshot format, the same etcd, Kubernetes and kwok versions (etcd
// must read the data; the API server must serve the objects as stored),
// and the same setup hash. The first failing check returns a
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
		return &MismatchError{Snapshot: m.Name, Kind: MismatchSetup, Differences: diffs, msg: msg}
	}
	return nil
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
