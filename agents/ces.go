package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/churn-dev/churn/agents/watch"
)

// Cilium's CiliumEndpointSlice controller defaults: up to 100 endpoints per
// slice, slices grouped by identity (and so by namespace), a slice written
// 500 ms after its first change (so changes in between go in one write),
// through a 10 qps / burst 20 queue.
const (
	cesMaxEndpoints = 100
	cesWriteQPS     = 10
	cesWriteBurst   = 20
	cesSyncDelay    = 500 * time.Millisecond
)

// cesManager batches run CiliumEndpoints into CiliumEndpointSlices. Its
// state is shared by the operator replicas; the leader writes.
type cesManager struct {
	mu        sync.Mutex
	wake      chan struct{}
	limiter   *watch.TokenBucket
	runLabels map[string]string

	slices map[string]*cesSlice
	member map[string]string // CEP key -> slice name
	groups map[cesGroup][]string
	queue  []string
	queued map[string]time.Time // slice -> when it was queued
	clk    clock.Clock
	seq    int
	prefix string
}

type cesGroup struct {
	ns       string
	identity int64
}

type cesSlice struct {
	name      string
	group     cesGroup
	endpoints map[string]cesEndpoint
	created   bool
	rv        string
}

type cesEndpoint struct {
	name     string
	identity int64
	ip       string
}

func newCESManager(runLabels map[string]string, runID string, clk clock.Clock) *cesManager {
	return &cesManager{
		wake: make(chan struct{}, 1), limiter: watch.NewTokenBucket(cesWriteQPS, cesWriteBurst, clk), runLabels: runLabels,
		slices: map[string]*cesSlice{}, member: map[string]string{}, groups: map[cesGroup][]string{}, queued: map[string]time.Time{}, clk: clk,
		prefix: "ces-" + sanitizeName(runID),
	}
}

func (m *cesManager) enqueue(name string) {
	if _, ok := m.queued[name]; !ok {
		m.queued[name] = m.clk.Now()
		m.queue = append(m.queue, name)
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// upsert places a CEP in a slice of its (namespace, identity) group.
func (m *cesManager) upsert(key, ns, name string, identity int64, ip string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ep := cesEndpoint{name: name, identity: identity, ip: ip}
	if sn, ok := m.member[key]; ok {
		s := m.slices[sn]
		if s.group.identity == identity {
			if s.endpoints[key] != ep {
				s.endpoints[key] = ep
				m.enqueue(sn)
			}
			return
		}
		m.removeLocked(key)
	}
	g := cesGroup{ns: ns, identity: identity}
	var s *cesSlice
	for _, sn := range m.groups[g] {
		if c := m.slices[sn]; len(c.endpoints) < cesMaxEndpoints {
			s = c
			break
		}
	}
	if s == nil {
		m.seq++
		s = &cesSlice{name: fmt.Sprintf("%s-%06d", m.prefix, m.seq), group: g, endpoints: map[string]cesEndpoint{}}
		m.slices[s.name] = s
		m.groups[g] = append(m.groups[g], s.name)
	}
	s.endpoints[key] = ep
	m.member[key] = s.name
	m.enqueue(s.name)
}

// adopt takes an existing CiliumEndpointSlice (its JSON) as written: its
// endpoints are members of it and nothing is queued, so an endpoint found
// as the slice holds it is not written again. A slice already known, or
// empty, or unreadable, is left alone.
func (m *cesManager) adopt(raw []byte) {
	var ces struct {
		Metadata struct {
			Name            string `json:"name"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Namespace string `json:"namespace"`
		Endpoints []struct {
			Name       string `json:"name"`
			ID         int64  `json:"id"`
			Networking struct {
				Addressing []struct {
					IPv4 string `json:"ipv4"`
				} `json:"addressing"`
			} `json:"networking"`
		} `json:"endpoints"`
	}
	if json.Unmarshal(raw, &ces) != nil || ces.Metadata.Name == "" || len(ces.Endpoints) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	name := ces.Metadata.Name
	if _, known := m.slices[name]; known {
		return
	}
	s := &cesSlice{name: name, group: cesGroup{ns: ces.Namespace, identity: ces.Endpoints[0].ID},
		endpoints: map[string]cesEndpoint{}, created: true, rv: ces.Metadata.ResourceVersion}
	for _, e := range ces.Endpoints {
		key := ces.Namespace + "/" + e.Name
		if _, dup := m.member[key]; dup {
			continue
		}
		ep := cesEndpoint{name: e.Name, identity: e.ID}
		if len(e.Networking.Addressing) > 0 {
			ep.ip = e.Networking.Addressing[0].IPv4
		}
		s.endpoints[key] = ep
		m.member[key] = name
	}
	m.slices[name] = s
	m.groups[s.group] = append(m.groups[s.group], name)
	// New slices are numbered after the adopted ones.
	if n, err := strconv.Atoi(strings.TrimPrefix(name, m.prefix+"-")); err == nil && n > m.seq {
		m.seq = n
	}
}

// prune removes from the slices every endpoint not in known (those of
// adopted slices that no longer exist); their slices are queued.
func (m *cesManager) prune(known map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key := range m.member {
		if !known[key] {
			m.removeLocked(key)
		}
	}
}

func (m *cesManager) remove(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(key)
}

func (m *cesManager) removeLocked(key string) {
	sn, ok := m.member[key]
	if !ok {
		return
	}
	delete(m.member, key)
	delete(m.slices[sn].endpoints, key)
	m.enqueue(sn)
}

// next pops a queued slice that has waited cesSyncDelay and snapshots it;
// wait > 0 says how long until the first queued slice is due.
func (m *cesManager) next() (snap cesSlice, eps []cesEndpoint, ok bool, wait time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.queue) > 0 {
		sn := m.queue[0]
		if due := m.queued[sn].Add(cesSyncDelay); m.clk.Now().Before(due) {
			return cesSlice{}, nil, false, due.Sub(m.clk.Now())
		}
		m.queue = m.queue[1:]
		delete(m.queued, sn)
		s := m.slices[sn]
		if s == nil {
			continue
		}
		eps = make([]cesEndpoint, 0, len(s.endpoints))
		for _, e := range s.endpoints {
			eps = append(eps, e)
		}
		sort.Slice(eps, func(i, j int) bool { return eps[i].name < eps[j].name })
		snap = *s
		snap.endpoints = nil
		return snap, eps, true, 0
	}
	return cesSlice{}, nil, false, 0
}

func (m *cesManager) run(ctx context.Context, r *replica) {
	tick := r.comp.mesh.clock.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-tick.C():
		}
		for ctx.Err() == nil && r.leading() {
			s, eps, ok, wait := m.next()
			if wait > 0 {
				if !m.sleep(ctx, wait) {
					return
				}
				continue
			}
			if !ok {
				break
			}
			if _, err := m.limiter.Wait(ctx); err != nil {
				return
			}
			m.write(ctx, r, s, eps)
		}
	}
}

func (m *cesManager) sleep(ctx context.Context, d time.Duration) bool {
	t := m.clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *cesManager) write(ctx context.Context, r *replica, s cesSlice, eps []cesEndpoint) {
	cl := r.client()
	path := objectPath("cilium.io", "v2alpha1", "ciliumendpointslices", "", s.name)
	if len(eps) == 0 {
		m.mu.Lock()
		if cur := m.slices[s.name]; cur != nil && len(cur.endpoints) == 0 {
			delete(m.slices, s.name)
			names := m.groups[s.group]
			for i, n := range names {
				if n == s.name {
					m.groups[s.group] = append(names[:i:i], names[i+1:]...)
					break
				}
			}
		}
		m.mu.Unlock()
		if !s.created {
			return
		}
		_, err := r.do(ctx, apiCall{client: cl, verb: http.MethodDelete, path: path, accept: watch.ContentTypeJSON, key: "delete ciliumendpointslices"})
		if err != nil && !watch.IsNotFound(err) {
			r.countError(ctx, "delete ciliumendpointslice", err)
		}
		return
	}
	list := make([]any, len(eps))
	for i, e := range eps {
		list[i] = map[string]any{
			"name": e.name, "id": e.identity, "encryption": map[string]any{},
			"networking": map[string]any{"addressing": []any{map[string]any{"ipv4": e.ip}}},
		}
	}
	md := map[string]any{"name": s.name, "labels": m.runLabels}
	verb, key, target := http.MethodPost, "create ciliumendpointslices", objectPath("cilium.io", "v2alpha1", "ciliumendpointslices", "", "")
	if s.created {
		md["resourceVersion"] = s.rv
		verb, key, target = http.MethodPut, "update ciliumendpointslices", path
	}
	body := mustJSON(map[string]any{"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumEndpointSlice",
		"metadata": md, "namespace": s.group.ns, "endpoints": list})
	resp, err := r.do(ctx, apiCall{client: cl, verb: verb, path: target, body: body,
		contentType: watch.ContentTypeJSON, accept: watch.ContentTypeJSON, key: key})
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.slices[s.name]
	if cur == nil {
		return
	}
	switch {
	case err == nil:
		_, cur.rv = skimMeta(resp)
		cur.created = true
	case watch.IsAlreadyExists(err), watch.IsConflict(err):
		// Someone else's write won: refresh the version and retry.
		cur.created = true
		cur.rv = ""
		m.mu.Unlock()
		if b, gerr := r.do(ctx, apiCall{client: cl, verb: http.MethodGet, path: path, accept: watch.ContentTypeJSON}); gerr == nil {
			_, rv := skimMeta(b)
			m.mu.Lock()
			cur.rv = rv
		} else {
			m.mu.Lock()
		}
		m.enqueue(s.name)
	case watch.IsNotFound(err):
		cur.created = false
		m.enqueue(s.name)
	default:
		r.countError(ctx, "write ciliumendpointslice", err)
		m.enqueue(s.name)
	}
}
