package fakeapi

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// RequestRecord is one request the server answered.
type RequestRecord struct {
	Verb        string // get, list, watch, create, update, patch, delete
	Resource    string // "pods", "pods/status", "ciliumendpoints"
	Namespace   string
	Name        string
	Query       string
	UserAgent   string
	Accept      string
	ContentType string
}

// Server is the fake API server.
type Server struct {
	store
	ts *httptest.Server

	recMu    sync.Mutex
	requests []RequestRecord
	faults   []*fault
}

// New starts a TLS server with HTTP/2 (as the real API server) serving res.
func New(res []Resource) *Server {
	s := &Server{}
	s.colls = make(map[schema.GroupVersionResource]*collection)
	for _, r := range res {
		s.colls[r.GVR] = &collection{Resource: r, objects: map[objKey]runtime.Object{}, watchers: map[*watcher]struct{}{}}
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ts.EnableHTTP2 = true
	// Clients that go away mid-handshake are normal in tests; keep the
	// server's log quiet.
	s.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.ts.StartTLS()
	return s
}

// Close stops the server and ends every watch.
func (s *Server) Close() {
	s.mu.Lock()
	for _, c := range s.colls {
		for w := range c.watchers {
			w.close()
		}
	}
	s.mu.Unlock()
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.ts.URL }

// CAPEM is the PEM of the server's certificate, to trust it.
func (s *Server) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// RESTConfig returns a config that trusts the server.
func (s *Server) RESTConfig() *rest.Config {
	return &rest.Config{Host: s.URL(), TLSClientConfig: rest.TLSClientConfig{CAData: s.CAPEM()}}
}

// TLSConfig is the client TLS config for the server.
func (s *Server) TLSConfig() *tls.Config {
	return s.ts.Client().Transport.(*http.Transport).TLSClientConfig
}

// Requests returns a copy of the requests answered so far.
func (s *Server) Requests() []RequestRecord {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return append([]RequestRecord(nil), s.requests...)
}

// Count returns how many recorded requests have this verb and resource.
func (s *Server) Count(verb, resource string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Verb == verb && r.Resource == resource {
			n++
		}
	}
	return n
}

type route struct {
	coll      *collection
	ns, name  string
	sub       string
	gvr       schema.GroupVersionResource
	verb      string
	watch     bool
	resource  string
	namespace string
}

func (s *Server) parse(r *http.Request) (*route, error) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var gv schema.GroupVersion
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		gv, segs = schema.GroupVersion{Version: segs[1]}, segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		gv, segs = schema.GroupVersion{Group: segs[1], Version: segs[2]}, segs[3:]
	default:
		return nil, fmt.Errorf("unknown path %s", r.URL.Path)
	}
	rt := &route{}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		rt.ns, segs = segs[1], segs[2:]
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("no resource in %s", r.URL.Path)
	}
	rt.gvr = gv.WithResource(segs[0])
	if len(segs) > 1 {
		rt.name = segs[1]
	}
	if len(segs) > 2 {
		rt.sub = segs[2]
	}
	s.mu.Lock()
	c, err := s.coll(rt.gvr)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	rt.coll = c
	rt.watch = r.URL.Query().Get("watch") == "true"
	switch r.Method {
	case http.MethodGet:
		switch {
		case rt.watch:
			rt.verb = "watch"
		case rt.name == "":
			rt.verb = "list"
		default:
			rt.verb = "get"
		}
	case http.MethodPost:
		rt.verb = "create"
	case http.MethodPut:
		rt.verb = "update"
	case http.MethodPatch:
		rt.verb = "patch"
	case http.MethodDelete:
		rt.verb = "delete"
	}
	rt.resource = rt.gvr.Resource
	if rt.sub != "" {
		rt.resource += "/" + rt.sub
	}
	return rt, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rt, err := s.parse(r)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusNotFound, metav1.StatusReasonNotFound, err.Error()), nil)
		return
	}
	s.recMu.Lock()
	s.requests = append(s.requests, RequestRecord{
		Verb: rt.verb, Resource: rt.resource, Namespace: rt.ns, Name: rt.name, Query: r.URL.RawQuery,
		UserAgent: r.UserAgent(), Accept: r.Header.Get("Accept"), ContentType: r.Header.Get("Content-Type"),
	})
	f := s.matchFault(rt)
	s.recMu.Unlock()
	if f != nil {
		h := http.Header{}
		if f.RetryAfterSeconds > 0 {
			h.Set("Retry-After", strconv.Itoa(f.RetryAfterSeconds))
		}
		writeStatus(w, r, statusObject(int32(f.Code), f.Reason, "injected fault"), h)
		return
	}
	switch rt.verb {
	case "list":
		s.list(w, r, rt)
	case "watch":
		s.watch(w, r, rt)
	case "get":
		s.get(w, r, rt)
	case "create":
		s.create(w, r, rt)
	case "update":
		s.update(w, r, rt)
	case "patch":
		s.patch(w, r, rt)
	case "delete":
		s.remove(w, r, rt)
	default:
		writeStatus(w, r, statusObject(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method), nil)
	}
}

func writeStatus(w http.ResponseWriter, r *http.Request, st *metav1.Status, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
	if strings.HasPrefix(r.Header.Get("Accept"), mediaProtobuf) {
		b, err := EncodeProtobuf(st)
		if err == nil {
			w.Header().Set("Content-Type", mediaProtobuf)
			w.WriteHeader(int(st.Code))
			_, _ = w.Write(b)
			return
		}
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}

func writeObject(w http.ResponseWriter, r *http.Request, c *collection, obj runtime.Object, code int) {
	proto := wantsProtobuf(r.Header.Get("Accept"), c)
	b, err := encodeObject(c, obj, proto)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error()), nil)
		return
	}
	if proto {
		w.Header().Set("Content-Type", mediaProtobuf)
	} else {
		w.Header().Set("Content-Type", mediaJSON)
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// selector matches objects against a request's label and field selectors.
type selector struct {
	labels labels.Selector
	fields fields.Selector
	ns     string
}

func parseSelector(r *http.Request, ns string) (*selector, error) {
	q := r.URL.Query()
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, fmt.Errorf("label selector: %w", err)
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, fmt.Errorf("field selector: %w", err)
	}
	return &selector{labels: ls, fields: fs, ns: ns}, nil
}

func (sel *selector) matches(obj runtime.Object) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if sel.ns != "" && m.GetNamespace() != sel.ns {
		return false
	}
	if !sel.labels.Matches(labels.Set(m.GetLabels())) {
		return false
	}
	return sel.fields.Matches(fieldSet(obj, m))
}

// fieldSet is the subset of field selectors the emulated components use.
func fieldSet(obj runtime.Object, m metav1.Object) fields.Set {
	set := fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}
	u, err := toUnstructured(obj)
	if err != nil {
		return set
	}
	for path, key := range map[string][]string{
		"spec.nodeName": {"spec", "nodeName"},
		"status.phase":  {"status", "phase"},
		"type":          {"type"},
	} {
		if v, ok, _ := unstructured.NestedString(u.Object, key...); ok {
			set[path] = v
		}
	}
	return set
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, rt *route) {
	sel, err := parseSelector(r, rt.ns)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil)
		return
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	start := 0
	if c := q.Get("continue"); c != "" {
		start, err = strconv.Atoi(c)
		if err != nil {
			writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, "bad continue"), nil)
			return
		}
	}
	s.mu.Lock()
	var items []runtime.Object
	for _, obj := range rt.coll.sortedObjects() {
		if sel.matches(obj) {
			items = append(items, obj)
		}
	}
	rv := strconv.FormatInt(s.rv, 10)
	s.mu.Unlock()
	if start > len(items) {
		start = len(items)
	}
	items = items[start:]
	cont := ""
	if limit > 0 && len(items) > limit {
		items = items[:limit]
		cont = strconv.Itoa(start + limit)
	}
	proto := wantsProtobuf(r.Header.Get("Accept"), rt.coll)
	b, err := encodeList(rt.coll, items, rv, cont, proto)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error()), nil)
		return
	}
	if proto {
		w.Header().Set("Content-Type", mediaProtobuf)
	} else {
		w.Header().Set("Content-Type", mediaJSON)
	}
	_, _ = w.Write(b)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, rt *route) {
	s.mu.Lock()
	obj, ok := rt.coll.objects[objKey{rt.ns, rt.name}]
	if ok {
		obj = obj.DeepCopyObject()
	}
	s.mu.Unlock()
	if !ok {
		writeStatus(w, r, notFound(rt), nil)
		return
	}
	writeObject(w, r, rt.coll, obj, http.StatusOK)
}

func notFound(rt *route) *metav1.Status {
	return statusObject(http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", rt.gvr.Resource, rt.name))
}

// decodeBody reads a create or update body: protobuf for typed kinds when
// the client sent it, JSON otherwise.
func decodeBody(r *http.Request, c *collection) (runtime.Object, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), mediaProtobuf) {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(b, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode protobuf body: %w", err)
		}
		return obj, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode body: %w", err)
	}
	return fromUnstructured(c, &unstructured.Unstructured{Object: m})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, rt *route) {
	obj, err := decodeBody(r, rt.coll)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil)
		return
	}
	if rt.coll.Namespaced {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetNamespace(rt.ns)
		}
	}
	s.mu.Lock()
	out, err := s.createIn(rt.coll, obj)
	s.mu.Unlock()
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusConflict, metav1.StatusReasonAlreadyExists, err.Error()), nil)
		return
	}
	writeObject(w, r, rt.coll, out, http.StatusCreated)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, rt *route) {
	obj, err := decodeBody(r, rt.coll)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil)
		return
	}
	u, err := meta.Accessor(obj)
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil)
		return
	}
	s.mu.Lock()
	cur, ok := rt.coll.objects[objKey{rt.ns, rt.name}]
	if !ok {
		s.mu.Unlock()
		writeStatus(w, r, notFound(rt), nil)
		return
	}
	cm, _ := meta.Accessor(cur)
	if rv := u.GetResourceVersion(); rv != "" && rv != cm.GetResourceVersion() {
		s.mu.Unlock()
		writeStatus(w, r, statusObject(http.StatusConflict, metav1.StatusReasonConflict, "the object has been modified"), nil)
		return
	}
	om, _ := meta.Accessor(obj)
	om.SetUID(cm.GetUID())
	om.SetCreationTimestamp(cm.GetCreationTimestamp())
	s.commit(rt.coll, "MODIFIED", obj, cur)
	out := obj.DeepCopyObject()
	s.mu.Unlock()
	writeObject(w, r, rt.coll, out, http.StatusOK)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, rt *route) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil)
		return
	}
	s.mu.Lock()
	cur, ok := rt.coll.objects[objKey{rt.ns, rt.name}]
	if !ok {
		s.mu.Unlock()
		writeStatus(w, r, notFound(rt), nil)
		return
	}
	u, err := toUnstructured(cur)
	if err == nil {
		err = applyPatch(u.Object, r.Header.Get("Content-Type"), b)
	}
	var obj runtime.Object
	if err == nil {
		obj, err = fromUnstructured(rt.coll, u)
	}
	if err != nil {
		s.mu.Unlock()
		writeStatus(w, r, statusObject(http.StatusUnprocessableEntity, metav1.StatusReasonInvalid, err.Error()), nil)
		return
	}
	s.commit(rt.coll, "MODIFIED", obj, cur)
	out := obj.DeepCopyObject()
	s.mu.Unlock()
	writeObject(w, r, rt.coll, out, http.StatusOK)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request, rt *route) {
	var opts metav1.DeleteOptions
	if b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20)); len(b) > 0 {
		if err := json.Unmarshal(b, &opts); err != nil {
			writeStatus(w, r, statusObject(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error()), nil)
			return
		}
	}
	s.mu.Lock()
	cur, ok := rt.coll.objects[objKey{rt.ns, rt.name}]
	if !ok {
		s.mu.Unlock()
		writeStatus(w, r, notFound(rt), nil)
		return
	}
	cm, _ := meta.Accessor(cur)
	if p := opts.Preconditions; p != nil && p.UID != nil && *p.UID != cm.GetUID() {
		s.mu.Unlock()
		writeStatus(w, r, statusObject(http.StatusConflict, metav1.StatusReasonConflict, "Precondition failed: UID in precondition does not match"), nil)
		return
	}
	gone := cur.DeepCopyObject()
	s.commit(rt.coll, "DELETED", gone, nil)
	s.mu.Unlock()
	writeObject(w, r, rt.coll, gone, http.StatusOK)
}
