package agents

import (
	"hash/fnv"
	"sort"
	"strings"
	"sync"

	"github.com/churn-dev/churn/agents/watch"
)

// shared is the state of a mesh that its replicas would each rebuild from
// their own informers in real life. Keeping one copy (fed idempotently by
// every replica's watch events) is what lets a thousand agents cost
// kilobytes each; the requests they send are unchanged.
type shared struct {
	runLabels map[string]string

	nsMu     sync.RWMutex
	nsLabels map[string]string // run namespace -> canonical labels

	idMu       sync.RWMutex
	identities map[int64]struct{} // CiliumIdentity ids known to exist

	op  *operatorState
	ces *cesManager
}

func newShared(runLabels map[string]string) *shared {
	return &shared{runLabels: runLabels, nsLabels: map[string]string{}, identities: map[int64]struct{}{}, op: newOperatorState()}
}

// isRun reports whether an object carries the run's labels.
func (s *shared) isRun(obj *watch.Object) bool { return obj.HasLabels(s.runLabels) }

func (s *shared) setNamespaceLabels(ns, canon string) (changed bool) {
	s.nsMu.Lock()
	defer s.nsMu.Unlock()
	if s.nsLabels[ns] == canon {
		return false
	}
	s.nsLabels[ns] = canon
	return true
}

func (s *shared) deleteNamespace(ns string) {
	s.nsMu.Lock()
	delete(s.nsLabels, ns)
	s.nsMu.Unlock()
}

func (s *shared) namespaceLabels(ns string) (string, bool) {
	s.nsMu.RLock()
	defer s.nsMu.RUnlock()
	l, ok := s.nsLabels[ns]
	return l, ok
}

func (s *shared) identityKnown(id int64) bool {
	s.idMu.RLock()
	defer s.idMu.RUnlock()
	_, ok := s.identities[id]
	return ok
}

func (s *shared) setIdentity(id int64, exists bool) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if exists {
		s.identities[id] = struct{}{}
	} else {
		delete(s.identities, id)
	}
}

// canonicalLabels renders labels as sorted "k=v" joined by "\n", leaving
// out the ones Cilium's default label filter ignores for identities.
func canonicalLabels(kvs []watch.KV) string {
	parts := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		if identityIgnored(string(kv.Key)) {
			continue
		}
		parts = append(parts, string(kv.Key)+"="+string(kv.Value))
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

// identityIgnored: labels that change per rollout or per pod, which
// Cilium's default identity label filter drops.
func identityIgnored(key string) bool {
	switch key {
	case "pod-template-hash", "controller-revision-hash", "pod-template-generation",
		"statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index":
		return true
	}
	return false
}

func splitLabels(canon string) [][2]string {
	if canon == "" {
		return nil
	}
	lines := strings.Split(canon, "\n")
	out := make([][2]string, 0, len(lines))
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

// Cluster-local Cilium identities are numbered 256..65535.
const (
	minIdentity = 256
	maxIdentity = 65535
)

// identityID maps a security label set to a numeric identity. Every agent
// computes the same number for the same set, so they race to create the
// same CiliumIdentity and the first wins, as with Cilium's CRD allocator.
// (A hash collision merges two sets into one identity; harmless here.)
func identityID(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return minIdentity + int64(h.Sum64()%uint64(maxIdentity-minIdentity+1))
}

// securityLabels are an endpoint's identity labels in Cilium's
// "source:key=value" form: pod labels, the namespace, the namespace's
// labels, the service account and the cluster.
func securityLabels(ns, podLabels, nsLabels string) []string {
	var out []string
	for _, kv := range splitLabels(podLabels) {
		out = append(out, "k8s:"+kv[0]+"="+kv[1])
	}
	for _, kv := range splitLabels(nsLabels) {
		out = append(out, "k8s:io.cilium.k8s.namespace.labels."+kv[0]+"="+kv[1])
	}
	out = append(out,
		"k8s:io.cilium.k8s.policy.cluster=default",
		"k8s:io.cilium.k8s.policy.serviceaccount=default",
		"k8s:io.kubernetes.pod.namespace="+ns)
	sort.Strings(out)
	return out
}
