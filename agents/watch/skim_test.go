package watch

import (
	"bytes"
	"testing"
	"testing/iotest"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/churn-dev/churn/agents/internal/fakeapi"
)

var created = time.Date(2026, 11, 25, 18, 19, 18, 0, time.UTC)

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ns-1", UID: "0b1c2d3e-uid", ResourceVersion: "4242",
			CreationTimestamp: metav1.NewTime(created),
			Labels:            map[string]string{"app": "web", "churn.dev/run": "r1", "pod-template-hash": "abc"},
			Annotations:       map[string]string{"ambient.istio.io/redirection": "enabled"},
			OwnerReferences:   []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "rs-uid"}},
			ManagedFields:     []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: "Update", APIVersion: "v1"}},
		},
		Spec: corev1.PodSpec{
			NodeName:   "kwok-node-7",
			Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/pause:3.10"}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning,
			PodIP: "10.0.7.12",
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue},
			},
		},
	}
}

func testCEP(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cilium.io/v2",
		"kind":       "CiliumEndpoint",
		"metadata": map[string]any{
			"name": name, "namespace": "ns-1", "uid": "cep-uid-1", "resourceVersion": "777",
			"creationTimestamp": created.Format(time.RFC3339),
			"labels":            map[string]any{"churn.dev/run": "r1"},
			"ownerReferences":   []any{map[string]any{"apiVersion": "v1", "kind": "Pod", "name": name, "uid": "pod-uid"}},
			"managedFields": []any{map[string]any{"manager": "cilium-agent", "operation": "Update",
				"fieldsV1": map[string]any{"f:status": map[string]any{"f:identity": map[string]any{"f:id": map[string]any{}}}}}},
		},
		"status": map[string]any{
			"id":         int64(1234),
			"encryption": map[string]any{},
			"external-identifiers": map[string]any{
				"k8s-namespace": "ns-1", "k8s-pod-name": name, "container-id": "c0ffee \"quoted\" \\ back",
			},
			"identity": map[string]any{"id": int64(48861), "labels": []any{"k8s:app=web", "k8s:io.kubernetes.pod.namespace=ns-1"}},
			"networking": map[string]any{
				"addressing": []any{map[string]any{"ipv4": "10.0.7.12"}, map[string]any{"ipv4": "10.0.7.13"}},
				"node":       "172.18.0.3",
			},
			"state": "ready",
		},
	}}
}

func TestSkimProtoPodWatchEvent(t *testing.T) {
	var stream bytes.Buffer
	if err := fakeapi.WriteProtoWatchEvent(&stream, "MODIFIED", testPod("web-1")); err != nil {
		t.Fatal(err)
	}
	frames := &protoFrames{body: &stream}
	frame, err := frames.next()
	if err != nil {
		t.Fatal(err)
	}
	var obj Object
	typ, err := skimProtoEvent(frame, FieldLabels|FieldAnnotations|FieldPod, &obj)
	if err != nil {
		t.Fatal(err)
	}
	if typ != Modified {
		t.Errorf("type = %v, want MODIFIED", typ)
	}
	checkPod(t, &obj)
	if v, _ := obj.Annotation("ambient.istio.io/redirection"); string(v) != "enabled" {
		t.Errorf("annotation = %q", v)
	}
	if !obj.HasLabels(map[string]string{"churn.dev/run": "r1"}) || obj.HasLabels(map[string]string{"churn.dev/run": "r2"}) {
		t.Errorf("HasLabels wrong for %v", obj.Labels)
	}
}

func checkPod(t *testing.T, obj *Object) {
	t.Helper()
	for _, c := range []struct{ field, got, want string }{
		{"name", string(obj.Name), "web-1"},
		{"namespace", string(obj.Namespace), "ns-1"},
		{"uid", string(obj.UID), "0b1c2d3e-uid"},
		{"resourceVersion", string(obj.ResourceVersion), "4242"},
		{"nodeName", string(obj.NodeName), "kwok-node-7"},
		{"phase", string(obj.Phase), "Running"},
		{"podIP", string(obj.PodIP), "10.0.7.12"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if obj.CreationUnix != created.Unix() {
		t.Errorf("creation = %d, want %d", obj.CreationUnix, created.Unix())
	}
	if !obj.Ready {
		t.Error("Ready = false, want true")
	}
	if v, ok := obj.Label("app"); !ok || string(v) != "web" {
		t.Errorf("label app = %q, %v", v, ok)
	}
	if len(obj.Labels) != 3 {
		t.Errorf("labels = %d, want 3", len(obj.Labels))
	}
}

func TestSkimProtoOnlyWhatIsAsked(t *testing.T) {
	var stream bytes.Buffer
	if err := fakeapi.WriteProtoWatchEvent(&stream, "ADDED", testPod("web-1")); err != nil {
		t.Fatal(err)
	}
	frame, err := (&protoFrames{body: &stream}).next()
	if err != nil {
		t.Fatal(err)
	}
	var obj Object
	if _, err := skimProtoEvent(frame, 0, &obj); err != nil {
		t.Fatal(err)
	}
	if string(obj.Name) != "web-1" || string(obj.ResourceVersion) != "4242" {
		t.Errorf("metadata not skimmed: %q %q", obj.Name, obj.ResourceVersion)
	}
	if obj.Labels != nil || obj.NodeName != nil || obj.Ready {
		t.Errorf("unrequested fields filled: labels=%v node=%q ready=%v", obj.Labels, obj.NodeName, obj.Ready)
	}
}

func TestSkimProtoErrorEvent(t *testing.T) {
	var stream bytes.Buffer
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
		Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version: 5 (9)"}
	if err := fakeapi.WriteProtoWatchEvent(&stream, "ERROR", st); err != nil {
		t.Fatal(err)
	}
	frame, err := (&protoFrames{body: &stream}).next()
	if err != nil {
		t.Fatal(err)
	}
	var obj Object
	typ, err := skimProtoEvent(frame, 0, &obj)
	if err != nil || typ != Error {
		t.Fatalf("typ=%v err=%v", typ, err)
	}
	if obj.Code != 410 || string(obj.Reason) != "Expired" || string(obj.Message) != st.Message {
		t.Errorf("status = %d %q %q", obj.Code, obj.Reason, obj.Message)
	}
}

func TestReadProtoListStreams(t *testing.T) {
	list := &corev1.PodList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PodList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "9001", Continue: "tok"}}
	for _, n := range []string{"web-1", "web-1", "web-1"} {
		list.Items = append(list.Items, *testPod(n))
	}
	b, err := fakeapi.EncodeProtobuf(list)
	if err != nil {
		t.Fatal(err)
	}
	var obj Object
	seen := 0
	res, err := readProtoList(iotest.OneByteReader(bytes.NewReader(b)), FieldLabels|FieldPod, &obj, func(o *Object) error {
		seen++
		checkPod(t, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.rv != "9001" || res.cont != "tok" || res.items != 3 || seen != 3 {
		t.Errorf("list = %+v, seen %d", res, seen)
	}
	// Without a handler, items are counted and skipped.
	res, err = readProtoList(bytes.NewReader(b), 0, &obj, nil)
	if err != nil || res.items != 3 || res.rv != "9001" {
		t.Errorf("skip list = %+v, %v", res, err)
	}
}

func TestSkimJSONEndpointWatchEvent(t *testing.T) {
	var stream bytes.Buffer
	for _, typ := range []string{"ADDED", "DELETED"} {
		if err := fakeapi.WriteJSONWatchEvent(&stream, typ, testCEP("web-1")); err != nil {
			t.Fatal(err)
		}
	}
	lines := &jsonLines{body: iotest.HalfReader(&stream)}
	for _, want := range []EventType{Added, Deleted} {
		line, err := lines.next()
		if err != nil {
			t.Fatal(err)
		}
		var obj Object
		typ, err := skimJSONEvent(line, FieldLabels|FieldEndpoint, &obj)
		if err != nil {
			t.Fatal(err)
		}
		if typ != want {
			t.Errorf("type = %v, want %v", typ, want)
		}
		checkCEP(t, &obj)
	}
	if _, err := lines.next(); err == nil {
		t.Error("want EOF after two events")
	}
}

func checkCEP(t *testing.T, obj *Object) {
	t.Helper()
	if string(obj.Name) != "web-1" || string(obj.Namespace) != "ns-1" || string(obj.UID) != "cep-uid-1" || string(obj.ResourceVersion) != "777" {
		t.Errorf("meta = %q %q %q %q", obj.Name, obj.Namespace, obj.UID, obj.ResourceVersion)
	}
	if obj.CreationUnix != created.Unix() {
		t.Errorf("creation = %d", obj.CreationUnix)
	}
	if obj.IdentityID != 48861 || string(obj.IPv4) != "10.0.7.12" {
		t.Errorf("identity %d ip %q", obj.IdentityID, obj.IPv4)
	}
	if v, _ := obj.Label("churn.dev/run"); string(v) != "r1" {
		t.Errorf("run label = %q", v)
	}
}

func TestSkimJSONStatusAndBookmark(t *testing.T) {
	var stream bytes.Buffer
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure", Code: 410, Reason: "Expired", Message: "too old"}
	bm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "cilium.io/v2", "kind": "CiliumEndpoint",
		"metadata": map[string]any{"resourceVersion": "31337"}}}
	for _, ev := range []struct {
		typ string
		obj runtime.Object
	}{{"BOOKMARK", bm}, {"ERROR", st}} {
		if err := fakeapi.WriteJSONWatchEvent(&stream, ev.typ, ev.obj); err != nil {
			t.Fatal(err)
		}
	}
	lines := &jsonLines{body: &stream}
	line, _ := lines.next()
	var obj Object
	if typ, err := skimJSONEvent(line, 0, &obj); err != nil || typ != Bookmark || string(obj.ResourceVersion) != "31337" {
		t.Errorf("bookmark: %v %v %q", typ, err, obj.ResourceVersion)
	}
	line, _ = lines.next()
	obj.Reset()
	if typ, err := skimJSONEvent(line, 0, &obj); err != nil || typ != Error || obj.Code != 410 || string(obj.Reason) != "Expired" {
		t.Errorf("error: %v %v %d %q", typ, err, obj.Code, obj.Reason)
	}
}

func TestReadJSONListAnyKeyOrder(t *testing.T) {
	// Items before metadata, as the API server writes custom resource lists.
	var items bytes.Buffer
	items.WriteString(`{"apiVersion":"cilium.io/v2","items":[`)
	for i := 0; i < 3; i++ {
		if i > 0 {
			items.WriteString(",")
		}
		b, err := testCEP("web-1").MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		items.Write(b)
	}
	items.WriteString(`],"kind":"CiliumEndpointList","metadata":{"continue":"c1","resourceVersion":"55"}}`)
	doc := items.Bytes()
	for name, r := range map[string]func() *bytes.Reader{"whole": func() *bytes.Reader { return bytes.NewReader(doc) }} {
		var obj Object
		seen := 0
		res, err := readJSONList(iotest.OneByteReader(r()), FieldLabels|FieldEndpoint, &obj, func(o *Object) error {
			seen++
			checkCEP(t, o)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.rv != "55" || res.cont != "c1" || res.items != 3 || seen != 3 {
			t.Errorf("%s: list = %+v seen %d", name, res, seen)
		}
		res, err = readJSONList(iotest.OneByteReader(r()), 0, &obj, nil)
		if err != nil || res.items != 3 || res.rv != "55" {
			t.Errorf("%s: skipping list = %+v %v", name, res, err)
		}
	}
}

func TestValueScanner(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int // index after the value, -1 if incomplete
	}{
		{`"abc"rest`, 5},
		{`"a\"b\\"x`, 8},
		{`{"a":[1,2,{"b":"}"}],"c":"\\"}  `, 30},
		{`123,`, 3},
		{`true]`, 4},
		{`123`, 3},
		{`{"a":"b"`, -1},
		{`"abc\`, -1},
	} {
		if got := skipJSON([]byte(c.in), 0); got != c.want {
			t.Errorf("skipJSON(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	// Resumable across arbitrary splits.
	doc := []byte(`{"k":"v\\\"q","arr":[{"x":"]"},"\\"],"n":-1.5e3}`)
	for split := 1; split < len(doc); split++ {
		var v valueScanner
		n1, done := v.scan(doc[:split])
		if done {
			if n1 != len(doc) {
				t.Fatalf("split %d: ended early at %d", split, n1)
			}
			continue
		}
		n2, done := v.scan(doc[n1:])
		if !done || n1+n2 != len(doc) {
			t.Errorf("split %d: got %d+%d done=%v, want %d", split, n1, n2, done, len(doc))
		}
	}
}

func TestParseRFC3339(t *testing.T) {
	if got := parseRFC3339Seconds([]byte("2026-11-25T18:19:18Z")); got != created.Unix() {
		t.Errorf("fast path = %d", got)
	}
	if got := parseRFC3339Seconds([]byte("2026-11-25T19:19:18+01:00")); got != created.Unix() {
		t.Errorf("offset = %d", got)
	}
	if tm, ok := parseRFC3339([]byte("2026-11-25T18:19:18.5Z")); !ok || tm.UnixMilli() != created.UnixMilli()+500 {
		t.Errorf("fraction = %v %v", tm, ok)
	}
	if got := parseRFC3339Seconds([]byte("garbage")); got != 0 {
		t.Errorf("garbage = %d", got)
	}
}

func TestSkipJSONNearTheEnd(t *testing.T) {
	// Strings that end within the last eight bytes of the document.
	for _, d := range []string{`{"a":{"b":"x"}}`, `{"a":{"k8s:app":"x"}}`, `["0123456789abcdef","x"]`, `{"a":"\"","b":{"c":"\\"}}`, `{"k":"v"}`} {
		if got := skipJSON([]byte(d), 0); got != len(d) {
			t.Errorf("skipJSON(%s) = %d, want %d", d, got, len(d))
		}
		var o Object
		c := jsonCursor{b: []byte(d)}
		if d[0] == '{' {
			if err := skimJSONObject(&c, 0, &o, false); err != nil {
				t.Errorf("skim %s: %v", d, err)
			}
		}
	}
}

// time.Date normalises a month 13 or an hour 99 into a real instant; such
// a stamp is malformed and must read as unset, as time.Parse has it.
func TestParseRFC3339SecondsRejectsOutOfRangeFields(t *testing.T) {
	for _, s := range []string{"2026-13-45T99:99:99Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z"} {
		if got := parseRFC3339Seconds([]byte(s)); got != 0 {
			t.Errorf("%s read as %v, want 0 (malformed)", s, time.Unix(got, 0).UTC())
		}
	}
	if got, want := parseRFC3339Seconds([]byte("2024-02-29T23:59:59Z")), time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC).Unix(); got != want {
		t.Errorf("leap day read as %d, want %d", got, want)
	}
}
