package agents

import (
	"time"

	"github.com/churn-dev/churn/agents/watch"
	"github.com/churn-dev/churn/results"
)

// lagSources says what each lag is measured from.
var lagSources = map[string]string{
	LagPodToNodeAgent:      "ADDED on the node agent's spec.nodeName watch minus pod creationTimestamp (1 s resolution; includes scheduling)",
	LagEndpointSliceIstiod: "ADDED/MODIFIED on istiod's watch minus the EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time annotation",
	LagEndpointSliceAgent:  "ADDED/MODIFIED on cilium-agent's watch minus the EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time annotation",
	LagCEPToAgents:         "ADDED on every agent's CiliumEndpoint watch minus the CEP's creationTimestamp (1 s resolution)",
	LagCESToAgents:         "ADDED on every agent's CiliumEndpointSlice watch minus the slice's creationTimestamp (1 s resolution)",
}

// primaryLag is the lag a component's LagP50/LagP99 report.
var primaryLag = map[string]string{
	"istiod":          LagEndpointSliceIstiod,
	"istio-cni":       LagPodToNodeAgent,
	"cilium-agent":    LagPodToNodeAgent,
	"cilium-operator": "",
}

func (m *Mesh) summary() *results.MeshSummary {
	s := &results.MeshSummary{Name: m.spec.Name, CRDsCreated: m.crdsCreated}
	m.mu.Lock()
	s.RolloutSeconds = m.rolloutTime.Seconds()
	m.mu.Unlock()
	for _, c := range m.components {
		s.Components = append(s.Components, c.summary())
	}
	if m.external != nil {
		m.external.addTo(s)
	}
	if len(m.components) > 0 {
		s.Notes = append(s.Notes,
			"replicas of one component share one HTTP/2 transport (the API server sees the same requests over fewer connections)",
			"lags come from API-server timestamps with one-second resolution, stamps older than the watch skipped; p50/p99 are read from log-spaced buckets (within 19%)")
	}
	for _, c := range m.components {
		if c.spec.StreamingList {
			s.Notes = append(s.Notes, c.spec.Name+" syncs with streaming WATCHes (sendInitialEvents), as client-go v0.35+ does: its lists and list items count those syncs")
		}
	}
	return s
}

func (c *component) summary() results.ComponentSummary {
	st := c.stats
	c.mu.Lock()
	replicas := c.replicas
	c.mu.Unlock()
	cs := results.ComponentSummary{
		Name: c.spec.Name, Replicas: replicas, UserAgent: c.spec.UserAgent, Informers: len(c.watches),
		EventsReceived: st.Events.Load(), Bookmarks: st.Bookmarks.Load(), ListItems: st.ListItems.Load(),
		BytesReceived: st.Bytes.Load(), Lists: st.Lists.Load(), Relists: st.Relists.Load(), Gone: st.Gone.Load(),
		WatchRequests: st.Watches.Load(), WatchRestarts: st.WatchRestarts.Load(), Throttled429: st.Throttled429.Load(),
		Errors: st.Errors.Load(), ClientThrottleSeconds: time.Duration(st.ThrottleNanos.Load()).Seconds(),
		Gets: c.gets.Load(), Writes: st.Writes(),
	}
	primary := primaryLag[c.spec.Name]
	for _, name := range st.LagNames() {
		ls := lagSummary(name, st.Lag(name).Summary())
		if ls.Samples == 0 {
			continue
		}
		cs.Lags = append(cs.Lags, ls)
		if name == primary {
			cs.LagP50, cs.LagP99 = ls.P50, ls.P99
		}
	}
	if cs.LagP50 == 0 && len(cs.Lags) > 0 && primary != "" {
		cs.LagP50, cs.LagP99 = cs.Lags[0].P50, cs.Lags[0].P99
	}
	return cs
}

func lagSummary(name string, s watch.LagStats) results.LagSummary {
	return results.LagSummary{Name: name, Source: lagSources[name], Samples: s.Count, P50: s.P50, P99: s.P99, Max: s.Max, Mean: s.Mean}
}
