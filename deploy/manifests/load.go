// Package manifests reads the kustomize bases under deploy/ as plain
// Kubernetes objects and applies them with server-side apply, so churn can
// install a base itself (deploy/kwok) and tests can validate every base
// against a real API server.
//
// Only a kustomization's resources list is understood: files and
// directories holding another kustomization. Generators, patches, name
// prefixes and the like change the objects in ways only kustomize
// reproduces, so a kustomization using them is refused with the field
// named, rather than loaded half-right.
package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// KustomizationFiles are the names kustomize looks for in a directory, in
// its order.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// supportedFields are the kustomization fields the loader understands.
var supportedFields = map[string]bool{"apiVersion": true, "kind": true, "resources": true}

// Resource is one object of a base and the file it came from.
type Resource struct {
	// File is the file's path: relative to the fs.FS given to LoadFS, or
	// as given to LoadResources.
	File   string
	Object *unstructured.Unstructured
}

// Load reads the kustomization in dir and returns its objects, in the order
// of its resources list (depth first through sub-directories).
func Load(dir string) ([]*unstructured.Unstructured, error) {
	rs, err := LoadResources(dir)
	if err != nil {
		return nil, err
	}
	return Objects(rs), nil
}

// Objects returns the objects of rs.
func Objects(rs []Resource) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(rs))
	for i, r := range rs {
		out[i] = r.Object
	}
	return out
}

// LoadResources is Load that also reports each object's file.
func LoadResources(dir string) ([]Resource, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	// Rooting the file system at the volume root lets a resource name a
	// sibling base ("../other") as kustomize allows.
	root := filepath.VolumeName(abs) + string(filepath.Separator)
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	rs, err := LoadFS(os.DirFS(root), filepath.ToSlash(rel))
	for i := range rs {
		rs[i].File = filepath.Join(root, filepath.FromSlash(rs[i].File))
	}
	return rs, err
}

// LoadFS reads the kustomization in dir of fsys (an embed.FS, for one).
func LoadFS(fsys fs.FS, dir string) ([]Resource, error) {
	l := loader{fsys: fsys, visiting: map[string]bool{}, seen: map[string]string{}}
	if err := l.kustomization(path.Clean(dir)); err != nil {
		return nil, err
	}
	return l.out, nil
}

type loader struct {
	fsys     fs.FS
	visiting map[string]bool
	// seen maps an object's identity to its file, to refuse duplicates as
	// kustomize does.
	seen map[string]string
	out  []Resource
}

// kustomizationFile returns the kustomization file of dir.
func kustomizationFile(fsys fs.FS, dir string) (string, error) {
	for _, name := range KustomizationFiles {
		p := path.Join(dir, name)
		if st, err := fs.Stat(fsys, p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no kustomization (%s)", dir, strings.Join(KustomizationFiles, ", "))
}

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

func (l *loader) kustomization(dir string) error {
	if l.visiting[dir] {
		return fmt.Errorf("%s: kustomization includes itself through its resources", dir)
	}
	l.visiting[dir] = true
	defer delete(l.visiting, dir)

	file, err := kustomizationFile(l.fsys, dir)
	if err != nil {
		return err
	}
	b, err := fs.ReadFile(l.fsys, file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	k, err := parseKustomization(b)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for _, r := range k.Resources {
		if err := l.resource(dir, file, r); err != nil {
			return err
		}
	}
	return nil
}

func parseKustomization(b []byte) (*kustomization, error) {
	var fields map[string]any
	if err := yaml.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var unsupported []string
	for f := range fields {
		if !supportedFields[f] {
			unsupported = append(unsupported, f)
		}
	}
	if len(unsupported) > 0 {
		sort.Strings(unsupported)
		return nil, fmt.Errorf("field %s is not supported: only apiVersion, kind and resources are understood, so that churn and its tests see exactly the objects kubectl apply -k would", strings.Join(unsupported, ", "))
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if k.APIVersion != "" && k.APIVersion != "kustomize.config.k8s.io/v1beta1" {
		return nil, fmt.Errorf("apiVersion %q is not kustomize.config.k8s.io/v1beta1", k.APIVersion)
	}
	if k.Kind != "" && k.Kind != "Kustomization" {
		return nil, fmt.Errorf("kind %q is not Kustomization", k.Kind)
	}
	return &k, nil
}

func (l *loader) resource(dir, file, entry string) error {
	if entry == "" || strings.Contains(entry, "://") || strings.HasPrefix(entry, "github.com/") {
		return fmt.Errorf("%s: resource %q: only local files and directories are supported", file, entry)
	}
	if path.IsAbs(entry) {
		return fmt.Errorf("%s: resource %q: must be relative to the kustomization", file, entry)
	}
	p := path.Join(dir, entry)
	if !fs.ValidPath(p) {
		return fmt.Errorf("%s: resource %q: leaves the directory tree being loaded", file, entry)
	}
	st, err := fs.Stat(l.fsys, p)
	if err != nil {
		return fmt.Errorf("%s: resource %q: %w", file, entry, err)
	}
	if st.IsDir() {
		return l.kustomization(p)
	}
	b, err := fs.ReadFile(l.fsys, p)
	if err != nil {
		return fmt.Errorf("%s: resource %q: %w", file, entry, err)
	}
	objs, err := Decode(b)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for _, o := range objs {
		id := identity(o)
		if prev, dup := l.seen[id]; dup {
			return fmt.Errorf("%s: %s is also defined in %s", p, id, prev)
		}
		l.seen[id] = p
		l.out = append(l.out, Resource{File: p, Object: o})
	}
	return nil
}

func identity(o *unstructured.Unstructured) string {
	id := o.GetKind() + " " + o.GetName()
	if ns := o.GetNamespace(); ns != "" {
		id = o.GetKind() + " " + ns + "/" + o.GetName()
	}
	if g := o.GroupVersionKind().Group; g != "" {
		id = g + "/" + id
	}
	return id
}

// Decode splits a multi-document YAML file into objects. Empty documents
// (only comments) are skipped; every other document must be one object
// with apiVersion, kind and metadata.name.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []*unstructured.Unstructured
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if o.IsList() || strings.HasSuffix(o.GetKind(), "List") {
			return nil, fmt.Errorf("document %d: %s: lists are not supported, write one object per document", i, o.GetKind())
		}
		if o.GetAPIVersion() == "" || o.GetName() == "" {
			return nil, fmt.Errorf("document %d (%s): apiVersion and metadata.name are required", i, o.GetKind())
		}
		out = append(out, o)
	}
}
