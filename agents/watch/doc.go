// Package watch is a cheap, faithful Kubernetes client for emulated control
// planes: a reflector (LIST, WATCH from the list's resourceVersion with
// bookmarks, re-watch on a normal end, re-LIST on 410 Gone, client-go's
// backoff), a per-client token bucket and Retry-After handling, and
// skimmers that pick a handful of fields out of protobuf and JSON bytes
// without decoding whole objects.
//
// What the API server sees follows client-go v0.37 (tools/cache/reflector.go,
// tools/pager, rest/request.go); what happens to the bytes on this side is
// deliberately minimal, so that a thousand emulated agents cost megabytes,
// not gigabytes (a typed-informer emulation of 1,000 agents used 10 GB).
package watch
