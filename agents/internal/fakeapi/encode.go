package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

const (
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
	mediaJSON     = "application/json"
)

var (
	protoSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	rawSerializer   = protobuf.NewRawSerializer(scheme.Scheme, scheme.Scheme)
)

// wantsProtobuf reports whether the client accepts protobuf for c.
func wantsProtobuf(accept string, c *collection) bool {
	return c.Typed && strings.HasPrefix(accept, mediaProtobuf) && !strings.Contains(strings.SplitN(accept, ",", 2)[0], "as=")
}

// withTypeMeta returns obj with apiVersion/kind set, as the API server's
// encoder writes them.
func withTypeMeta(c *collection, obj runtime.Object) runtime.Object {
	out := obj.DeepCopyObject()
	out.GetObjectKind().SetGroupVersionKind(c.GVR.GroupVersion().WithKind(c.Kind))
	return out
}

// EncodeProtobuf writes obj in the wrapped protobuf encoding (magic +
// runtime.Unknown), as a GET or an embedded watch object.
func EncodeProtobuf(obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := protoSerializer.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("encode protobuf: %w", err)
	}
	return buf.Bytes(), nil
}

func encodeObject(c *collection, obj runtime.Object, proto bool) ([]byte, error) {
	obj = withTypeMeta(c, obj)
	if proto {
		return EncodeProtobuf(obj)
	}
	return json.Marshal(obj)
}

func encodeList(c *collection, items []runtime.Object, rv, cont string, proto bool) ([]byte, error) {
	if proto {
		gvk := c.GVR.GroupVersion().WithKind(c.Kind + "List")
		list, err := scheme.Scheme.New(gvk)
		if err != nil {
			return nil, fmt.Errorf("new %s: %w", gvk, err)
		}
		objs := make([]runtime.Object, len(items))
		for i, it := range items {
			objs[i] = it.DeepCopyObject()
		}
		if err := meta.SetList(list, objs); err != nil {
			return nil, fmt.Errorf("set list: %w", err)
		}
		lm, err := meta.ListAccessor(list)
		if err != nil {
			return nil, err
		}
		lm.SetResourceVersion(rv)
		lm.SetContinue(cont)
		list.GetObjectKind().SetGroupVersionKind(gvk)
		return EncodeProtobuf(list)
	}
	// Custom resource lists are maps on the real server, so their keys come
	// sorted: items before metadata. Keep that here.
	raw := make([]json.RawMessage, len(items))
	for i, it := range items {
		b, err := json.Marshal(withTypeMeta(c, it))
		if err != nil {
			return nil, err
		}
		raw[i] = b
	}
	md := map[string]any{"resourceVersion": rv}
	if cont != "" {
		md["continue"] = cont
	}
	return json.Marshal(map[string]any{
		"apiVersion": c.GVR.GroupVersion().String(),
		"kind":       c.Kind + "List",
		"items":      raw,
		"metadata":   md,
	})
}

// WriteProtoWatchEvent writes one protobuf watch frame: a length-prefixed
// raw metav1.WatchEvent embedding the wrapped object.
func WriteProtoWatchEvent(w io.Writer, typ string, obj runtime.Object) error {
	raw, err := EncodeProtobuf(obj)
	if err != nil {
		return err
	}
	fw := protobuf.LengthDelimitedFramer.NewFrameWriter(w)
	return rawSerializer.Encode(&metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: raw}}, fw)
}

// WriteJSONWatchEvent writes one JSON watch line.
func WriteJSONWatchEvent(w io.Writer, typ string, obj runtime.Object) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(map[string]any{"type": typ, "object": json.RawMessage(b)})
}

func statusObject(code int32, reason metav1.StatusReason, msg string) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Code: code, Reason: reason, Message: msg,
	}
}

func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.DeepCopy(), nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func fromUnstructured(c *collection, u *unstructured.Unstructured) (runtime.Object, error) {
	obj := c.newObject()
	if uo, ok := obj.(*unstructured.Unstructured); ok {
		uo.Object = u.Object
		return uo, nil
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil, err
	}
	return obj, nil
}
