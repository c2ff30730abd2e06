package profiles

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Decode reads one profile document on top of Defaults, so fields the
// document omits keep their default. Decoding is strict: an unknown field,
// a duplicate key or a wrong type is an error naming the field. apiVersion
// and kind must be present and match. Decode does not Validate, because flags
// are applied between the two.
func Decode(data []byte) (Profile, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return Profile{}, fmt.Errorf("parse profile: %w", err)
	}
	if raw == nil {
		return Profile{}, fmt.Errorf("parse profile: empty document")
	}
	var errs field.ErrorList
	errs = append(errs, checkHeader(raw)...)
	errs = append(errs, unknownFields(raw, reflect.TypeFor[Profile](), nil)...)
	if len(errs) > 0 {
		return Profile{}, fmt.Errorf("decode profile: %w", errs.ToAggregate())
	}
	p := Defaults()
	// Strict decoding also catches duplicate keys and type mismatches.
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return Profile{}, fmt.Errorf("decode profile: %w", err)
	}
	return p, nil
}

// Marshal renders p as YAML, the form `churn profiles show` prints and
// Decode reads back. Keys keep the Go field order (apiVersion, kind, name,
// ...) rather than sorting, so the output reads like the built-in files.
func Marshal(p Profile) ([]byte, error) {
	j, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode profile %q: %w", p.Name, err)
	}
	// JSON is YAML; a MapSlice keeps the key order while converting.
	var ordered yamlv2.MapSlice
	if err := yamlv2.Unmarshal(j, &ordered); err != nil {
		return nil, fmt.Errorf("encode profile %q: %w", p.Name, err)
	}
	b, err := yamlv2.Marshal(ordered)
	if err != nil {
		return nil, fmt.Errorf("encode profile %q: %w", p.Name, err)
	}
	return b, nil
}

// checkHeader requires apiVersion and kind in the document itself: a file
// without them could be meant for another version of this schema.
func checkHeader(raw map[string]any) field.ErrorList {
	var errs field.ErrorList
	for _, h := range []struct{ key, want string }{{"apiVersion", APIVersion}, {"kind", Kind}} {
		v, ok := raw[h.key]
		switch {
		case !ok:
			errs = append(errs, field.Required(field.NewPath(h.key), fmt.Sprintf("must be %q", h.want)))
		case v != h.want:
			errs = append(errs, field.NotSupported(field.NewPath(h.key), v, []string{h.want}))
		}
	}
	return errs
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// unknownFields walks the generic document alongside the Go type and reports
// every key the type does not have, with its path. encoding/json's strict
// mode stops at the first unknown field and does not say where it is.
func unknownFields(v any, t reflect.Type, path *field.Path) field.ErrorList {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// Types with their own decoding (metav1.Duration) are leaves.
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	var errs field.ErrorList
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil // a type error; strict decoding reports it
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				errs = append(errs, field.Forbidden(path.Child(k), "unknown field; known here: "+strings.Join(sortedKeys(fields), ", ")))
				continue
			}
			errs = append(errs, unknownFields(obj[k], ft, path.Child(k))...)
		}
	case reflect.Slice:
		items, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, item := range items {
			errs = append(errs, unknownFields(item, t.Elem(), path.Index(i))...)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for k, item := range obj {
			errs = append(errs, unknownFields(item, t.Elem(), path.Key(k))...)
		}
	}
	return errs
}

// jsonFields maps a struct's JSON names to field types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

func sortedKeys(m map[string]reflect.Type) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
