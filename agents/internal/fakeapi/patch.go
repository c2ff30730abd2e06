package fakeapi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// applyPatch applies a merge patch (RFC 7386) or a JSON patch (RFC 6902,
// add/replace/remove on object paths) to obj in place.
func applyPatch(obj map[string]any, contentType string, body []byte) error {
	switch {
	case strings.HasPrefix(contentType, "application/merge-patch+json"),
		strings.HasPrefix(contentType, "application/strategic-merge-patch+json"):
		var p map[string]any
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("merge patch: %w", err)
		}
		mergeInto(obj, p)
		return nil
	case strings.HasPrefix(contentType, "application/json-patch+json"):
		var ops []struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value any    `json:"value"`
		}
		if err := json.Unmarshal(body, &ops); err != nil {
			return fmt.Errorf("json patch: %w", err)
		}
		for _, op := range ops {
			parts := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
			parent := obj
			for _, p := range parts[:len(parts)-1] {
				next, ok := parent[p].(map[string]any)
				if !ok {
					return fmt.Errorf("json patch: path %s not found", op.Path)
				}
				parent = next
			}
			last := parts[len(parts)-1]
			switch op.Op {
			case "add", "replace":
				parent[last] = op.Value
			case "remove":
				delete(parent, last)
			case "test":
			default:
				return fmt.Errorf("json patch: op %q unsupported", op.Op)
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported patch type %q", contentType)
}

func mergeInto(dst, patch map[string]any) {
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeInto(dm, pm)
				continue
			}
			m := map[string]any{}
			mergeInto(m, pm)
			dst[k] = m
			continue
		}
		dst[k] = v
	}
}
