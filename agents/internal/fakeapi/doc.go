// Package fakeapi is a small in-memory Kubernetes API server for tests and
// measurements of the emulated agents: LIST (with limit/continue), WATCH
// from a resourceVersion (with bookmarks, compaction and 410) or streaming
// the current objects first (sendInitialEvents), create, get,
// update, merge and JSON patch, delete with UID preconditions, label and
// field selectors, and fault injection (429 with Retry-After, expired
// watches). Built-in kinds are served in protobuf or JSON as asked, custom
// resources in JSON, all encoded by k8s.io/apimachinery's own serializers
// so the bytes are the real wire format.
package fakeapi
