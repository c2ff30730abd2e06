package fakeapi

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func (s *Server) collFor(obj runtime.Object) (*collection, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	for _, c := range s.colls {
		if c.GVR.GroupVersion() == gvk.GroupVersion() && c.Kind == gvk.Kind {
			return c, nil
		}
	}
	// Typed objects often come without TypeMeta: match by Go type.
	for _, c := range s.colls {
		if fmt.Sprintf("%T", c.newObject()) == fmt.Sprintf("%T", obj) && c.Typed {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no collection for %T %s", obj, gvk)
}

// Create stores a new object, assigning uid, creationTimestamp and
// resourceVersion, and returns a copy of it.
func (s *Server) Create(obj runtime.Object) (runtime.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collFor(obj)
	if err != nil {
		return nil, err
	}
	return s.createIn(c, obj)
}

// createIn is Create into a known collection; callers hold s.mu.
func (s *Server) createIn(c *collection, obj runtime.Object) (runtime.Object, error) {
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + strconv.FormatInt(s.uid+1, 36))
	}
	k := keyOf(obj)
	if _, exists := c.objects[k]; exists {
		return nil, fmt.Errorf("%s %q already exists", c.GVR.Resource, m.GetName())
	}
	m.SetUID(s.nextUID())
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.NewTime(time.Now()))
	}
	s.commit(c, "ADDED", obj, nil)
	return obj.DeepCopyObject(), nil
}

// Update replaces a stored object (no resourceVersion check).
func (s *Server) Update(obj runtime.Object) (runtime.Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collFor(obj)
	if err != nil {
		return nil, err
	}
	obj = obj.DeepCopyObject()
	cur, ok := c.objects[keyOf(obj)]
	if !ok {
		return nil, fmt.Errorf("%s %v not found", c.GVR.Resource, keyOf(obj))
	}
	cm, _ := meta.Accessor(cur)
	m, _ := meta.Accessor(obj)
	m.SetUID(cm.GetUID())
	m.SetCreationTimestamp(cm.GetCreationTimestamp())
	s.commit(c, "MODIFIED", obj, cur)
	return obj.DeepCopyObject(), nil
}

// Delete removes an object.
func (s *Server) Delete(gvr schema.GroupVersionResource, ns, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.coll(gvr)
	if err != nil {
		return err
	}
	cur, ok := c.objects[objKey{ns, name}]
	if !ok {
		return fmt.Errorf("%s %s/%s not found", gvr.Resource, ns, name)
	}
	s.commit(c, "DELETED", cur.DeepCopyObject(), nil)
	return nil
}

// Get returns a copy of a stored object.
func (s *Server) Get(gvr schema.GroupVersionResource, ns, name string) (runtime.Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.coll(gvr)
	if err != nil {
		return nil, false
	}
	obj, ok := c.objects[objKey{ns, name}]
	if !ok {
		return nil, false
	}
	return obj.DeepCopyObject(), true
}

// List returns copies of every stored object of gvr.
func (s *Server) List(gvr schema.GroupVersionResource) []runtime.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.coll(gvr)
	if err != nil {
		return nil
	}
	out := c.sortedObjects()
	for i := range out {
		out[i] = out[i].DeepCopyObject()
	}
	return out
}

// Compact forgets history up to now: a watch from an older resourceVersion
// gets 410 Expired, as after an etcd compaction.
func (s *Server) Compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compactedRV = s.rv
	for _, c := range s.colls {
		c.history = nil
	}
}

// ExpireWatches compacts and ends every open watch with a 410 Expired
// ERROR event, as the watch cache does to a watcher that fell too far back.
func (s *Server) ExpireWatches() {
	s.Compact()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.colls {
		for w := range c.watchers {
			w.mu.Lock()
			w.expire = true
			w.mu.Unlock()
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// EndWatches closes every open watch normally (as the server's timeout does).
func (s *Server) EndWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.colls {
		for w := range c.watchers {
			w.close()
		}
	}
}

// SendBookmarks sends a BOOKMARK at the current resourceVersion to every
// watch that allows bookmarks.
func (s *Server) SendBookmarks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.colls {
		bm := c.newObject()
		m, _ := meta.Accessor(bm)
		m.SetResourceVersion(strconv.FormatInt(s.rv, 10))
		for w := range c.watchers {
			w.send(event{typ: "BOOKMARK", obj: bm})
		}
	}
}

// Watchers returns the number of open watches.
func (s *Server) Watchers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.colls {
		n += len(c.watchers)
	}
	return n
}

// DropConnections closes every client connection, as a restarting or
// crashing API server would.
func (s *Server) DropConnections() {
	s.ts.CloseClientConnections()
}
