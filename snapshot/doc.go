// Package snapshot saves, verifies and restores a run's setup: a local
// control plane's etcd data and PKI taken right after every fake node and
// replica was Ready, with a manifest saying what it holds. A run started
// from it (churn run --from-snapshot) skips the node creation and the ramp.
//
// Layout of a snapshot directory (DefaultRoot/NAME):
//
//	manifest.json   format version, profile and setup hash, run labels,
//	                component versions, object counts, sizes, setup figures
//	etcd/           etcd's data directory, compacted and defragmented, as
//	                etcd left it when it stopped
//	pki/            the cluster CA, certificates and service-account keys
//
// A snapshot is written once (Save, into a staging directory renamed into
// place at the end, so a crash never leaves a half snapshot under its name)
// and then only read: Restore copies it into a fresh cluster directory, so
// one snapshot serves any number of runs.
//
// A snapshot is used only where it stands in exactly for the run's own
// setup (Verify): same manifest format, same etcd, Kubernetes and kwok
// versions, and the same setup, compared by a hash of the profile fields
// that decide which objects exist (nodes, workload shape, image) and of
// the objects churn builds from them. Fields that only pace or bound the
// setup (create QPS, ready timeout) and everything after it (churn, seed,
// mesh, observers, SLOs) are not part of it: one snapshot serves every
// seed and every mesh.
package snapshot
