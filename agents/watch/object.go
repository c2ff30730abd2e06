package watch

// EventType is the kind of one watch event or list item.
type EventType uint8

// Event types. Synced is not a server event: the reflector emits it after a
// LIST has been fully delivered, so handlers know the initial state is in.
const (
	Added EventType = iota + 1
	Modified
	Deleted
	Bookmark
	Error
	Synced
)

func (t EventType) String() string {
	switch t {
	case Added:
		return "ADDED"
	case Modified:
		return "MODIFIED"
	case Deleted:
		return "DELETED"
	case Bookmark:
		return "BOOKMARK"
	case Error:
		return "ERROR"
	case Synced:
		return "SYNCED"
	}
	return "UNKNOWN"
}

func parseEventType(b []byte) EventType {
	switch string(b) {
	case "ADDED":
		return Added
	case "MODIFIED":
		return Modified
	case "DELETED":
		return Deleted
	case "BOOKMARK":
		return Bookmark
	case "ERROR":
		return Error
	}
	return 0
}

// Fields says which optional parts of an object a watch needs. Metadata
// name, namespace, uid, resourceVersion and creationTimestamp are always
// picked out; everything else costs only when asked for.
type Fields uint16

// Optional fields.
const (
	// FieldLabels fills Object.Labels.
	FieldLabels Fields = 1 << iota
	// FieldAnnotations fills Object.Annotations.
	FieldAnnotations
	// FieldPod fills NodeName, Phase, PodIP and Ready (core/v1 Pod only).
	FieldPod
	// FieldEndpoint fills IdentityID and IPv4 (CiliumEndpoint status only).
	FieldEndpoint
	// FieldRaw fills Raw with the object's JSON (JSON watches only); for
	// the rare handler that must write the whole object back.
	FieldRaw
)

// KV is one label or annotation. Both slices alias the event buffer.
type KV struct {
	Key, Value []byte
}

// Object is what a skimmer picked out of one object. Every byte slice
// aliases the buffer the object was read into and is valid only during the
// handler call; a handler that keeps a value must copy it.
type Object struct {
	Name, Namespace, UID, ResourceVersion []byte
	// CreationUnix is metadata.creationTimestamp in Unix seconds (0 if unset).
	CreationUnix int64
	// Deleting is true when metadata.deletionTimestamp is set.
	Deleting    bool
	Labels      []KV
	Annotations []KV

	// Pod fields (FieldPod).
	NodeName, Phase, PodIP []byte
	Ready                  bool

	// CiliumEndpoint fields (FieldEndpoint).
	IdentityID int64
	IPv4       []byte

	// Raw is the object's JSON document (FieldRaw).
	Raw []byte

	// Status fields, set on ERROR events (a metav1.Status).
	Code            int32
	Reason, Message []byte
}

// Reset clears o for reuse, keeping the label and annotation capacity.
func (o *Object) Reset() {
	labels, annotations := o.Labels[:0], o.Annotations[:0]
	*o = Object{Labels: labels, Annotations: annotations}
}

// Label returns the value of label key and whether it is present.
func (o *Object) Label(key string) ([]byte, bool) {
	return lookup(o.Labels, key)
}

// Annotation returns the value of annotation key and whether it is present.
func (o *Object) Annotation(key string) ([]byte, bool) {
	return lookup(o.Annotations, key)
}

// HasLabels reports whether every key=value of want is among o's labels.
func (o *Object) HasLabels(want map[string]string) bool {
	for k, v := range want {
		got, ok := o.Label(k)
		if !ok || string(got) != v {
			return false
		}
	}
	return true
}

func lookup(kvs []KV, key string) ([]byte, bool) {
	for i := range kvs {
		if string(kvs[i].Key) == key {
			return kvs[i].Value, true
		}
	}
	return nil, false
}
