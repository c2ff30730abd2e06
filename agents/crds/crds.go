// Package crds holds the custom resource definitions the emulated meshes
// need (Cilium, Istio, Gateway API), written for churn as small structural
// schemas, and installs them into a cluster without ever touching a CRD the
// run did not create.
package crds

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Set names.
const (
	SetCilium     = "cilium"
	SetIstio      = "istio"
	SetGatewayAPI = "gateway-api"
	// SetCiliumReal is what the real cilium-agent waits for beyond
	// SetCilium (installed only with real Cilium components).
	SetCiliumReal = "cilium-real"
)

//go:embed manifests/*.yaml
var manifests embed.FS

// Kind is one custom resource kind.
type Kind struct {
	Group, Kind, Resource string
	Namespaced            bool
	// Version is the storage version, the one the emulated clients use.
	Version string
	// Versions are all served versions.
	Versions []string
}

// Name is the CRD's metadata.name.
func (k Kind) Name() string { return k.Resource + "." + k.Group }

// SetsForMesh returns the CRD sets a mesh needs.
func SetsForMesh(mesh string) []string {
	switch mesh {
	case "cilium", "cilium-ces":
		return []string{SetCilium}
	case "istio-ambient":
		return []string{SetIstio, SetGatewayAPI}
	}
	return nil
}

// Manifests returns the CRD objects of a set.
func Manifests(set string) ([]*unstructured.Unstructured, error) {
	raw, err := manifests.ReadFile("manifests/" + set + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown CRD set %q", set)
	}
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("CRD set %s: %w", set, err)
		}
		if len(obj) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out, nil
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Kinds returns the kinds of a set, in manifest order.
func Kinds(set string) ([]Kind, error) {
	objs, err := Manifests(set)
	if err != nil {
		return nil, err
	}
	out := make([]Kind, 0, len(objs))
	for _, o := range objs {
		k, err := kindOf(o)
		if err != nil {
			return nil, fmt.Errorf("CRD set %s: %w", set, err)
		}
		out = append(out, k)
	}
	return out, nil
}

func kindOf(crd *unstructured.Unstructured) (Kind, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	k := Kind{Group: group, Kind: kind, Resource: plural, Namespaced: scope == "Namespaced"}
	for _, v := range versions {
		vm, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := vm["name"].(string)
		if served, _ := vm["served"].(bool); served {
			k.Versions = append(k.Versions, name)
		}
		if storage, _ := vm["storage"].(bool); storage {
			k.Version = name
		}
	}
	if group == "" || kind == "" || plural == "" || k.Version == "" {
		return k, fmt.Errorf("CRD %s is incomplete", crd.GetName())
	}
	return k, nil
}

// Lookup finds a kind by group and resource in the named sets.
func Lookup(group, resource string, sets ...string) (Kind, bool) {
	for _, s := range sets {
		ks, err := Kinds(s)
		if err != nil {
			continue
		}
		for _, k := range ks {
			if k.Group == group && k.Resource == resource {
				return k, true
			}
		}
	}
	return Kind{}, false
}

// servedVersions reads the served versions of a CRD object.
func servedVersions(crd *unstructured.Unstructured) []string {
	k, _ := kindOf(crd)
	vs := append([]string(nil), k.Versions...)
	sort.Strings(vs)
	return vs
}

func hasLabels(obj *unstructured.Unstructured, want map[string]string) bool {
	got := obj.GetLabels()
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return len(want) > 0
}

// selectorFor renders a label selector; it refuses an empty set, which
// would select everything.
func selectorFor(runLabels map[string]string) (string, error) {
	if len(runLabels) == 0 {
		return "", fmt.Errorf("run labels are empty: refusing to select every object")
	}
	parts := make([]string, 0, len(runLabels))
	for k, v := range runLabels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ","), nil
}
