package watch

import (
	"errors"
	"fmt"
)

// The Kubernetes protobuf encoding (k8s.io/apimachinery runtime/serializer/protobuf):
// an object is the 4-byte magic "k8s\x00" followed by a runtime.Unknown
// {1: TypeMeta, 2: raw object bytes, 3: contentEncoding, 4: contentType}.
// A watch stream is 4-byte big-endian length-prefixed frames, each a raw
// (unwrapped) metav1.WatchEvent {1: type, 2: RawExtension{1: raw}} whose raw
// bytes are a wrapped object as above. A list is a wrapped XxxList
// {1: ListMeta, 2: repeated item}. Field numbers below come from the
// generated.proto files of k8s.io/api and k8s.io/apimachinery v0.37.
//
// The generated marshalers write fields in ascending field-number order, so
// a skim stops as soon as it is past the last field it wants (ObjectMeta's
// managedFields, field 17, are never walked).

var protoMagic = [4]byte{'k', '8', 's', 0}

var errProtoTruncated = errors.New("protobuf: truncated message")

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// pbReader walks the fields of one message. After next returns true,
// field and wire describe the field; val holds a length-delimited payload
// and num a varint. The state lives in the caller's frame, which keeps the
// per-field cost to a few instructions.
type pbReader struct {
	b     []byte
	i     int
	field int
	wire  int
	num   uint64
	val   []byte
	err   error
}

func (r *pbReader) next() bool {
	b, i := r.b, r.i
	if i >= len(b) {
		return false
	}
	var key uint64
	// One-byte keys and lengths are the common case; decode them inline.
	if b[i] < 0x80 {
		key = uint64(b[i])
		i++
	} else if key, i, r.err = uvarint(b, i); r.err != nil {
		return false
	}
	r.field, r.wire = int(key>>3), int(key&7)
	switch r.wire {
	case wireBytes:
		var n uint64
		if i < len(b) && b[i] < 0x80 {
			n = uint64(b[i])
			i++
		} else if n, i, r.err = uvarint(b, i); r.err != nil {
			return false
		}
		if n > uint64(len(b)-i) {
			r.err = errProtoTruncated
			return false
		}
		end := i + int(n)
		r.val = b[i:end:end]
		r.i = end
		return true
	case wireVarint:
		r.num, r.i, r.err = uvarint(b, i)
		return r.err == nil
	case wireFixed64:
		i += 8
	case wireFixed32:
		i += 4
	default:
		r.err = fmt.Errorf("protobuf: unsupported wire type %d", r.wire)
		return false
	}
	if i > len(b) {
		r.err = errProtoTruncated
		return false
	}
	r.i = i
	return true
}

// bytesField reports whether the current field is length-delimited field n.
func (r *pbReader) bytesField(n int) bool { return r.field == n && r.wire == wireBytes }

func uvarint(b []byte, i int) (uint64, int, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if i >= len(b) {
			return 0, 0, errProtoTruncated
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, nil
		}
	}
	return 0, 0, errors.New("protobuf: varint overflow")
}

// unwrapProto strips the magic and the runtime.Unknown envelope and returns
// the raw object message.
func unwrapProto(b []byte) ([]byte, error) {
	if len(b) < 4 || [4]byte(b[:4]) != protoMagic {
		return nil, errors.New("protobuf: missing k8s magic prefix")
	}
	r := pbReader{b: b, i: 4}
	for r.next() {
		if r.bytesField(2) {
			return r.val, nil
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, errors.New("protobuf: envelope without raw object")
}

// skimProtoEvent skims one raw metav1.WatchEvent frame.
func skimProtoEvent(frame []byte, want Fields, obj *Object) (EventType, error) {
	var typ EventType
	var raw []byte
	r := pbReader{b: frame}
	for r.next() {
		switch {
		case r.bytesField(1):
			typ = parseEventType(r.val)
		case r.bytesField(2):
			ext := pbReader{b: r.val} // RawExtension{1: raw}
			for ext.next() {
				if ext.bytesField(1) {
					raw = ext.val
				}
			}
			if ext.err != nil {
				return 0, ext.err
			}
		}
	}
	if r.err != nil {
		return 0, r.err
	}
	if typ == 0 {
		return 0, errors.New("protobuf: watch event without a known type")
	}
	msg, err := unwrapProto(raw)
	if err != nil {
		return typ, err
	}
	if typ == Error {
		return typ, skimProtoStatus(msg, obj)
	}
	return typ, skimProtoObject(msg, want, obj)
}

// skimProtoObject skims a raw (unwrapped) top-level object: field 1 is
// ObjectMeta for every Kubernetes kind; Pods add spec (2) and status (3).
func skimProtoObject(msg []byte, want Fields, obj *Object) error {
	pod := want&FieldPod != 0
	r := pbReader{b: msg}
	for r.next() {
		if r.wire != wireBytes {
			continue
		}
		var err error
		switch {
		case r.field == 1:
			err = skimProtoMeta(r.val, want, obj)
		case r.field == 2 && pod:
			err = skimProtoPodSpec(r.val, obj)
		case r.field == 3 && pod:
			err = skimProtoPodStatus(r.val, obj)
		case r.field > 3:
			return nil
		}
		if err != nil {
			return err
		}
	}
	return r.err
}

func skimProtoMeta(b []byte, want Fields, obj *Object) error {
	last := 9 // deletionTimestamp
	if want&FieldAnnotations != 0 {
		last = 12
	} else if want&FieldLabels != 0 {
		last = 11
	}
	r := pbReader{b: b}
	for r.next() {
		if r.field > last {
			return nil
		}
		if r.wire != wireBytes {
			continue
		}
		switch r.field {
		case 1:
			obj.Name = r.val
		case 3:
			obj.Namespace = r.val
		case 5:
			obj.UID = r.val
		case 6:
			obj.ResourceVersion = r.val
		case 8:
			obj.CreationUnix = protoSeconds(r.val)
		case 9:
			obj.Deleting = true
		case 11:
			if want&FieldLabels != 0 {
				obj.Labels = append(obj.Labels, protoMapEntry(r.val))
			}
		case 12:
			if want&FieldAnnotations != 0 {
				obj.Annotations = append(obj.Annotations, protoMapEntry(r.val))
			}
		}
	}
	return r.err
}

// protoSeconds reads metav1.Time{1: seconds}; a malformed time reads as 0.
func protoSeconds(b []byte) int64 {
	r := pbReader{b: b}
	for r.next() {
		if r.field == 1 && r.wire == wireVarint {
			return int64(r.num)
		}
	}
	return 0
}

// protoMapEntry reads a map<string,string> entry {1: key, 2: value}.
func protoMapEntry(b []byte) KV {
	var kv KV
	r := pbReader{b: b}
	for r.next() {
		switch {
		case r.bytesField(1):
			kv.Key = r.val
		case r.bytesField(2):
			kv.Value = r.val
		}
	}
	return kv
}

func skimProtoPodSpec(b []byte, obj *Object) error {
	r := pbReader{b: b}
	for r.next() {
		if r.field >= 10 {
			if r.bytesField(10) {
				obj.NodeName = r.val
			}
			return nil
		}
	}
	return r.err
}

func skimProtoPodStatus(b []byte, obj *Object) error {
	r := pbReader{b: b}
	for r.next() {
		if r.field > 6 {
			return nil
		}
		switch {
		case r.bytesField(1):
			obj.Phase = r.val
		case r.bytesField(6):
			obj.PodIP = r.val
		case r.bytesField(2):
			// A PodCondition starts with its type (field 1): read the
			// status (field 2) of the Ready one only.
			c := pbReader{b: r.val}
			if !c.next() || !c.bytesField(1) || string(c.val) != "Ready" {
				continue
			}
			for c.next() {
				if c.bytesField(2) {
					obj.Ready = string(c.val) == "True"
					break
				}
			}
		}
	}
	return r.err
}

// skimProtoStatus reads a raw metav1.Status.
func skimProtoStatus(b []byte, obj *Object) error {
	r := pbReader{b: b}
	for r.next() {
		switch {
		case r.bytesField(3):
			obj.Message = r.val
		case r.bytesField(4):
			obj.Reason = r.val
		case r.field == 6 && r.wire == wireVarint:
			obj.Code = int32(r.num)
		}
	}
	return r.err
}

// skimProtoListMeta reads a metav1.ListMeta.
func skimProtoListMeta(b []byte) (rv, cont []byte, err error) {
	r := pbReader{b: b}
	for r.next() {
		switch {
		case r.bytesField(2):
			rv = r.val
		case r.bytesField(3):
			cont = r.val
		}
	}
	return rv, cont, r.err
}
