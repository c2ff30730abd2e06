package watch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The skimmers read bytes from the API server; a panic in one ends a run.
// Beyond not panicking, each target checks the skimmer against the
// apimachinery decoders (protobuf) or encoding/json wherever the reference
// accepts the input and the input is one the server could have written:
// canonical protobuf (the generated marshaller reproduces it byte for
// byte, so fields are in ascending order as the skimmer assumes) and JSON
// without duplicate keys.

// allFields masks the fuzzer's uint16 to the defined Fields bits.
const allFields = FieldLabels | FieldAnnotations | FieldPod | FieldEndpoint | FieldRaw

func FuzzSkimProtoEvent(f *testing.F) {
	pod := testPod("web-1")
	for _, typ := range []string{"ADDED", "MODIFIED", "DELETED", "BOOKMARK"} {
		f.Add(protoEventFrame(f, typ, pod), uint16(FieldLabels|FieldAnnotations|FieldPod))
	}
	f.Add(protoEventFrame(f, "ERROR", &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Code: 410, Reason: "Expired", Message: "too old"}), uint16(0))
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{0x0a}, uint16(0))                                // a key without its length
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, uint16(0))  // a length past the end
	f.Add([]byte{0x0a, 0x05, 'A', 'D', 'D', 'E', 'D'}, uint16(0)) // no object
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, uint16(0))
	f.Fuzz(func(t *testing.T, frame []byte, want uint16) {
		fields := Fields(want) & allFields
		var obj Object
		typ, err := skimProtoEvent(frame, fields, &obj)
		if err == nil && typ == 0 {
			t.Fatal("no error and no event type")
		}
		checkAliases(t, frame, &obj)
		if _, err2 := compareProtoEvent(frame, fields, typ, err, &obj); err2 != nil {
			t.Fatal(err2)
		}
	})
}

// protoEventFrame is one watch event frame as the API server writes it
// (without the length prefix).
func protoEventFrame(tb testing.TB, typ string, obj runtime.Object) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := writeProtoEvent(&buf, typ, obj); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()[4:]
}

// compareProtoEvent checks a skim of frame against the reference decoders;
// compared is false when the reference does not apply to frame.
func compareProtoEvent(frame []byte, want Fields, typ EventType, skimErr error, obj *Object) (compared bool, err error) {
	var ev metav1.WatchEvent
	if ev.Unmarshal(frame) != nil || !canonical(&ev, frame) {
		return false, nil
	}
	refType := parseEventType([]byte(ev.Type))
	if refType == 0 {
		if skimErr == nil {
			return true, fmt.Errorf("event type %q accepted", ev.Type)
		}
		return true, nil
	}
	raw := ev.Object.Raw
	var u runtime.Unknown
	if len(raw) < 4 || [4]byte(raw[:4]) != protoMagic || u.Unmarshal(raw[4:]) != nil || !canonical(&u, raw[4:]) {
		return false, nil
	}
	var ref protoObject
	switch {
	case refType == Error:
		ref = &metav1.Status{}
	case u.Kind == "Pod":
		ref = &corev1.Pod{}
	case u.Kind == "ConfigMap":
		ref = &corev1.ConfigMap{}
	case u.Kind == "PartialObjectMetadata":
		ref = &metav1.PartialObjectMetadata{}
	default:
		return false, nil
	}
	if ref.Unmarshal(u.Raw) != nil || !canonical(ref, u.Raw) {
		return false, nil
	}
	if skimErr != nil {
		return true, fmt.Errorf("skim failed on a frame the reference decodes: %v", skimErr)
	}
	if typ != refType {
		return true, fmt.Errorf("type %v, reference %q", typ, ev.Type)
	}
	if st, ok := ref.(*metav1.Status); ok {
		return true, compareStatus(obj, st.Code, string(st.Reason), st.Message)
	}
	meta, _ := metaOf(ref)
	if err := compareMeta(obj, want, meta); err != nil {
		return true, err
	}
	if p, ok := ref.(*corev1.Pod); ok && want&FieldPod != 0 {
		return true, comparePod(obj, p)
	}
	return true, nil
}

type protoObject interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// canonical reports whether b is exactly what the generated marshaller
// writes for m.
func canonical(m interface{ Marshal() ([]byte, error) }, b []byte) bool {
	out, err := m.Marshal()
	return err == nil && bytes.Equal(out, b)
}

func metaOf(o any) (*metav1.ObjectMeta, bool) {
	switch v := o.(type) {
	case *corev1.Pod:
		return &v.ObjectMeta, true
	case *corev1.ConfigMap:
		return &v.ObjectMeta, true
	case *metav1.PartialObjectMetadata:
		return &v.ObjectMeta, true
	}
	return nil, false
}

func compareMeta(obj *Object, want Fields, m *metav1.ObjectMeta) error {
	var errs []string
	for _, c := range []struct{ field, got, want string }{
		{"name", string(obj.Name), m.Name},
		{"namespace", string(obj.Namespace), m.Namespace},
		{"uid", string(obj.UID), string(m.UID)},
		{"resourceVersion", string(obj.ResourceVersion), m.ResourceVersion},
	} {
		if c.got != c.want {
			errs = append(errs, fmt.Sprintf("%s %q, reference %q", c.field, c.got, c.want))
		}
	}
	created := int64(0)
	if !m.CreationTimestamp.IsZero() {
		created = m.CreationTimestamp.Unix()
	}
	if obj.CreationUnix != created {
		errs = append(errs, fmt.Sprintf("creation %d, reference %d", obj.CreationUnix, created))
	}
	if obj.Deleting != (m.DeletionTimestamp != nil) {
		errs = append(errs, fmt.Sprintf("deleting %t, reference %v", obj.Deleting, m.DeletionTimestamp))
	}
	errs = append(errs, compareMap("labels", obj.Labels, m.Labels, want&FieldLabels != 0, rawString)...)
	errs = append(errs, compareMap("annotations", obj.Annotations, m.Annotations, want&FieldAnnotations != 0, rawString)...)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

func rawString(b []byte) (string, bool) { return string(b), true }

// compareMap checks skimmed key/value pairs against the reference map;
// when the field was not asked for, nothing may have been skimmed.
func compareMap(what string, got []KV, ref map[string]string, wanted bool, decode func([]byte) (string, bool)) []string {
	if !wanted {
		if len(got) > 0 {
			return []string{fmt.Sprintf("%s skimmed without being asked for", what)}
		}
		return nil
	}
	m := make(map[string]string, len(got))
	for _, kv := range got {
		k, ok1 := decode(kv.Key)
		v, ok2 := decode(kv.Value)
		if !ok1 || !ok2 {
			return []string{fmt.Sprintf("%s entry %q=%q is not a JSON string's contents", what, kv.Key, kv.Value)}
		}
		m[k] = v
	}
	if len(m) != len(ref) || len(got) != len(ref) {
		return []string{fmt.Sprintf("%s %v, reference %v", what, m, ref)}
	}
	for k, v := range ref {
		if g, ok := m[k]; !ok || g != v {
			return []string{fmt.Sprintf("%s %v, reference %v", what, m, ref)}
		}
	}
	return nil
}

func comparePod(obj *Object, p *corev1.Pod) error {
	ready := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if string(obj.NodeName) != p.Spec.NodeName || string(obj.Phase) != string(p.Status.Phase) ||
		string(obj.PodIP) != p.Status.PodIP || obj.Ready != ready {
		return fmt.Errorf("pod node %q phase %q ip %q ready %t, reference %q %q %q %t",
			obj.NodeName, obj.Phase, obj.PodIP, obj.Ready, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP, ready)
	}
	return nil
}

func compareStatus(obj *Object, code int32, reason, message string) error {
	if obj.Code != code || string(obj.Reason) != reason || string(obj.Message) != message {
		return fmt.Errorf("status %d %q %q, reference %d %q %q", obj.Code, obj.Reason, obj.Message, code, reason, message)
	}
	return nil
}

// checkAliases: every byte slice of a skimmed object points into the
// buffer it was skimmed from (the handler contract: nothing is copied).
func checkAliases(t *testing.T, buf []byte, obj *Object) {
	t.Helper()
	in := func(what string, b []byte) {
		if len(b) == 0 {
			return
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
		p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		if p < lo || p+uintptr(len(b)) > lo+uintptr(len(buf)) {
			t.Fatalf("%s %q does not alias the input", what, b)
		}
	}
	for what, b := range map[string][]byte{"name": obj.Name, "namespace": obj.Namespace, "uid": obj.UID,
		"resourceVersion": obj.ResourceVersion, "nodeName": obj.NodeName, "phase": obj.Phase, "podIP": obj.PodIP,
		"ipv4": obj.IPv4, "raw": obj.Raw, "reason": obj.Reason, "message": obj.Message} {
		in(what, b)
	}
	for _, kv := range append(append([]KV(nil), obj.Labels...), obj.Annotations...) {
		in("key", kv.Key)
		in("value", kv.Value)
	}
}

func FuzzSkimJSONEvent(f *testing.F) {
	f.Add([]byte(`{"type":"ADDED","object":{"metadata":{"name":"a","namespace":"n","labels":{"k":"v","x":null},"creationTimestamp":"2026-11-25T18:19:18Z"}}}`), uint16(FieldLabels))
	f.Add([]byte(`{"object":{"metadata":{"name":"a\"b\\c\u00e9","deletionTimestamp":"2026-11-25T18:19:18Z"}},"type":"DELETED"}`), uint16(FieldRaw))
	f.Add([]byte(`{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"}}`), uint16(0))
	f.Add([]byte(`{"type":"MODIFIED","object":{"metadata":{"name":"cep"},"status":{"identity":{"id":48861},"networking":{"addressing":[{"ipv4":"10.0.0.1"},{"ipv4":"10.0.0.2"}]}}}}`), uint16(FieldEndpoint))
	f.Add([]byte(`{"type":"MODIFIED","object":{"metadata":{"creationTimestamp":"2026-13-45T99:99:99Z"}}}`), uint16(0))
	f.Add([]byte(`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12","annotations":{"k8s.io/initial-events-end":"true"}}}}`), uint16(FieldAnnotations))
	f.Add([]byte(``), uint16(0))
	f.Add([]byte(`{"type":"ADDED","object":{"metadata":{"name":"trunc`), uint16(0))
	f.Add([]byte(`{"type":"ADDED","object":[1,2,{"a":"b"}]}`), uint16(0))
	f.Fuzz(func(t *testing.T, doc []byte, want uint16) {
		fields := Fields(want) & allFields
		var obj Object
		typ, err := skimJSONEvent(doc, fields, &obj)
		if err == nil && typ == 0 {
			t.Fatal("no error and no event type")
		}
		checkAliases(t, doc, &obj)
		if _, err2 := compareJSONEvent(doc, fields, typ, err, &obj); err2 != nil {
			t.Fatal(err2)
		}
	})
}

// compareJSONEvent checks a skim of doc against encoding/json; compared is
// false when doc is outside what the skimmer promises to read: invalid
// JSON, duplicate keys, or a wrongly typed value the server never writes
// (metadata not an object, a name that is not a string).
func compareJSONEvent(doc []byte, want Fields, typ EventType, skimErr error, obj *Object) (compared bool, err error) {
	if !json.Valid(doc) || irregularKeys(doc) {
		return false, nil
	}
	var ev map[string]json.RawMessage
	if json.Unmarshal(doc, &ev) != nil {
		return false, nil
	}
	var typeName string
	if json.Unmarshal(ev["type"], &typeName) != nil {
		return false, nil
	}
	refType := parseEventType([]byte(typeName))
	rawObj, hasObj := ev["object"]
	if refType == 0 || !hasObj {
		if skimErr == nil {
			return true, fmt.Errorf("accepted an event of type %q (object present: %t)", typeName, hasObj)
		}
		return true, nil
	}
	var o map[string]json.RawMessage
	if json.Unmarshal(rawObj, &o) != nil {
		return false, nil
	}
	ref, ok := refJSONObject(o, want, refType == Error)
	if !ok {
		return false, nil
	}
	if skimErr != nil {
		return true, fmt.Errorf("skim failed on an event encoding/json decodes: %v", skimErr)
	}
	if typ != refType {
		return true, fmt.Errorf("type %v, reference %q", typ, typeName)
	}
	if want&FieldRaw != 0 && !bytes.Equal(obj.Raw, rawObj) {
		return true, fmt.Errorf("raw %q, reference %q", obj.Raw, rawObj)
	}
	return true, ref.compare(obj, want, refType == Error)
}

// refObject is what encoding/json reads from an object, in the skimmer's
// terms.
type refObject struct {
	name, namespace, uid, rv string
	created                  int64
	checkCreated             bool
	deleting                 bool
	labels, annotations      map[string]string
	identity                 int64
	ipv4                     string
	code                     int32
	checkCode                bool
	reason, message          string
}

// refJSONObject reads o; ok is false when o holds a value of a type the
// skimmer does not promise to handle.
func refJSONObject(o map[string]json.RawMessage, want Fields, status bool) (refObject, bool) {
	var r refObject
	if m, has := o["metadata"]; has {
		var meta map[string]json.RawMessage
		if json.Unmarshal(m, &meta) != nil || meta == nil {
			return r, false
		}
		for key, dst := range map[string]*string{"name": &r.name, "namespace": &r.namespace, "uid": &r.uid, "resourceVersion": &r.rv} {
			if v, has := meta[key]; has && json.Unmarshal(v, dst) != nil {
				return r, false
			}
			if v, has := meta[key]; has && string(v) == "null" {
				return r, false // a string the server always writes; the skimmer wants one
			}
		}
		if v, has := meta["creationTimestamp"]; has {
			var s string
			if json.Unmarshal(v, &s) == nil && string(v) != "null" {
				// The skimmer parses the raw (still escaped) value, which
				// is exact for the digits and letters the server writes.
				if !bytes.ContainsRune(v, '\\') {
					r.checkCreated = true
					if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
						r.created = t.Unix()
					}
				}
			} else {
				r.checkCreated = true
			}
		} else {
			r.checkCreated = true
		}
		if v, has := meta["deletionTimestamp"]; has {
			var s string
			r.deleting = json.Unmarshal(v, &s) == nil && string(v) != "null"
		}
		var ok bool
		if r.labels, ok = refStringMap(meta["labels"], want&FieldLabels != 0); !ok {
			return r, false
		}
		if r.annotations, ok = refStringMap(meta["annotations"], want&FieldAnnotations != 0); !ok {
			return r, false
		}
	} else {
		r.checkCreated = true
	}
	if want&FieldEndpoint != 0 {
		r.identity, r.ipv4 = refEndpoint(o["status"])
	}
	if status {
		if v, has := o["code"]; has {
			var n json.Number
			// A quoted number decodes into json.Number; it is no number.
			if v[0] != '"' && json.Unmarshal(v, &n) == nil {
				if c, err := strconv.ParseInt(string(n), 10, 32); err == nil {
					r.code, r.checkCode = int32(c), true
				}
			}
		} else {
			r.checkCode = true
		}
		for key, dst := range map[string]*string{"reason": &r.reason, "message": &r.message} {
			var s string
			if v, has := o[key]; has && v[0] == '"' && json.Unmarshal(v, &s) == nil {
				*dst = string(v[1 : len(v)-1]) // compared raw, as skimmed
			}
		}
	}
	return r, true
}

// refStringMap reads a labels or annotations value: an object (its string
// members) or null; ok is false for anything else.
func refStringMap(v json.RawMessage, wanted bool) (map[string]string, bool) {
	if v == nil || !wanted {
		return nil, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return nil, false
	}
	out := map[string]string{}
	for k, raw := range m {
		var s string
		if string(raw) != "null" && json.Unmarshal(raw, &s) == nil {
			out[k] = s
		}
	}
	return out, true
}

// refEndpoint reads status.identity.id and the first
// status.networking.addressing entry's ipv4 (raw) of a CiliumEndpoint.
func refEndpoint(status json.RawMessage) (int64, string) {
	var st struct {
		Identity   json.RawMessage `json:"identity"`
		Networking json.RawMessage `json:"networking"`
	}
	if json.Unmarshal(status, &st) != nil {
		return 0, ""
	}
	var id int64
	var ident map[string]json.RawMessage
	if json.Unmarshal(st.Identity, &ident) == nil {
		var n json.Number
		if v, has := ident["id"]; has && v[0] != '"' && json.Unmarshal(v, &n) == nil {
			id, _ = strconv.ParseInt(string(n), 10, 64)
		}
	}
	var ip string
	var nw map[string]json.RawMessage
	if json.Unmarshal(st.Networking, &nw) == nil {
		var addrs []json.RawMessage
		if json.Unmarshal(nw["addressing"], &addrs) == nil && len(addrs) > 0 {
			var first map[string]json.RawMessage
			if json.Unmarshal(addrs[0], &first) == nil {
				var s string
				if v, has := first["ipv4"]; has && string(v) != "null" && json.Unmarshal(v, &s) == nil {
					ip = string(v[1 : len(v)-1])
				}
			}
		}
	}
	return id, ip
}

// jsonString decodes a skimmed (raw, escaped) string's contents.
func jsonString(b []byte) (string, bool) {
	var s string
	err := json.Unmarshal(append(append([]byte{'"'}, b...), '"'), &s)
	return s, err == nil
}

func (r refObject) compare(obj *Object, want Fields, status bool) error {
	var errs []string
	for _, c := range []struct {
		field string
		got   []byte
		want  string
	}{{"name", obj.Name, r.name}, {"namespace", obj.Namespace, r.namespace}, {"uid", obj.UID, r.uid}, {"resourceVersion", obj.ResourceVersion, r.rv}} {
		if s, ok := jsonString(c.got); !ok || s != c.want {
			errs = append(errs, fmt.Sprintf("%s %q, reference %q", c.field, c.got, c.want))
		}
	}
	if r.checkCreated && obj.CreationUnix != r.created {
		errs = append(errs, fmt.Sprintf("creation %d, reference %d", obj.CreationUnix, r.created))
	}
	if obj.Deleting != r.deleting {
		errs = append(errs, fmt.Sprintf("deleting %t, reference %t", obj.Deleting, r.deleting))
	}
	errs = append(errs, compareMap("labels", obj.Labels, r.labels, want&FieldLabels != 0, jsonString)...)
	errs = append(errs, compareMap("annotations", obj.Annotations, r.annotations, want&FieldAnnotations != 0, jsonString)...)
	if want&FieldEndpoint != 0 && (obj.IdentityID != r.identity || string(obj.IPv4) != r.ipv4) {
		errs = append(errs, fmt.Sprintf("endpoint %d %q, reference %d %q", obj.IdentityID, obj.IPv4, r.identity, r.ipv4))
	}
	if status {
		if r.checkCode && obj.Code != r.code {
			errs = append(errs, fmt.Sprintf("code %d, reference %d", obj.Code, r.code))
		}
		if string(obj.Reason) != r.reason || string(obj.Message) != r.message {
			errs = append(errs, fmt.Sprintf("reason %q message %q, reference %q %q", obj.Reason, obj.Message, r.reason, r.message))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// skimmedKeys are the keys the skimmers and list readers look for.
var skimmedKeys = map[string]bool{
	"type": true, "object": true, "metadata": true, "name": true, "namespace": true, "uid": true,
	"resourceVersion": true, "creationTimestamp": true, "deletionTimestamp": true, "labels": true,
	"annotations": true, "status": true, "identity": true, "id": true, "networking": true,
	"addressing": true, "ipv4": true, "code": true, "reason": true, "message": true, "items": true, "continue": true,
}

// irregularKeys reports whether any object in the (valid) document
// repeats a key (encoding/json keeps the last, the skimmer may keep the
// first) or spells a key the skimmer looks for with an escape (it matches
// keys as written): the API server writes neither.
func irregularKeys(doc []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		keys   map[string]bool
		object bool
		key    bool // the next token in this object is a key
	}
	var stack []*frame
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if k, ok := tok.(string); ok {
				if top.keys[k] || (skimmedKeys[k] && bytes.IndexByte(doc[before:dec.InputOffset()], '\\') >= 0) {
					return true
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true // a value ended: a key follows
		}
	}
}

// writeProtoEvent writes one length-prefixed protobuf watch event.
func writeProtoEvent(w io.Writer, typ string, obj runtime.Object) error {
	raw, err := wrapProto(obj)
	if err != nil {
		return err
	}
	ev := metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: raw}}
	b, err := ev.Marshal()
	if err != nil {
		return err
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// wrapProto encodes obj as the API server does: magic and runtime.Unknown.
func wrapProto(obj runtime.Object) ([]byte, error) {
	m, ok := obj.(interface{ Marshal() ([]byte, error) })
	if !ok {
		return nil, fmt.Errorf("%T has no protobuf encoding", obj)
	}
	raw, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}, Raw: raw}
	b, err := u.Marshal()
	if err != nil {
		return nil, err
	}
	return append(protoMagic[:], b...), nil
}

// corpusEntries reads the []byte first argument of every checked-in
// captured seed of target (Go's corpus file format, one value a line).
func corpusEntries(t *testing.T, target string) [][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "captured-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no captured seeds for %s (see hack/fuzzcorpus)", target)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a corpus file with a []byte first", f)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, []byte(s))
	}
	return out
}

// The comparisons above only bite on inputs the reference accepts: the
// captured seeds must be such inputs, or the fuzz targets would compare
// nothing and pass.
func TestCapturedSeedsReachTheReference(t *testing.T) {
	all := FieldLabels | FieldAnnotations | FieldPod
	for _, frame := range corpusEntries(t, "FuzzSkimProtoEvent") {
		var obj Object
		typ, err := skimProtoEvent(frame, all, &obj)
		compared, cerr := compareProtoEvent(frame, all, typ, err, &obj)
		if !compared || cerr != nil {
			t.Errorf("protobuf seed %.60q: compared %t, %v", frame, compared, cerr)
		}
	}
	for _, doc := range corpusEntries(t, "FuzzSkimJSONEvent") {
		var obj Object
		typ, err := skimJSONEvent(doc, all|FieldRaw, &obj)
		compared, cerr := compareJSONEvent(doc, all|FieldRaw, typ, err, &obj)
		if !compared || cerr != nil {
			t.Errorf("JSON seed %.60q: compared %t, %v", doc, compared, cerr)
		}
	}
}
