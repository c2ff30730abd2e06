package profiles

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

const builtinDir = "builtin"

// Names lists the built-in profiles, in the order List returns them.
func Names() []string {
	all, err := List()
	if err != nil {
		// List only fails on a broken embedded file, which the package
		// tests rule out; fall back to the file names so callers still get
		// something to show.
		return embeddedNames()
	}
	names := make([]string, 0, len(all))
	for _, p := range all {
		names = append(names, p.Name)
	}
	return names
}

// List decodes every built-in profile, smallest workload first.
func List() ([]Profile, error) {
	var all []Profile
	for _, name := range embeddedNames() {
		p, err := builtin(name)
		if err != nil {
			return nil, err
		}
		all = append(all, p)
	}
	sort.SliceStable(all, func(i, j int) bool {
		if a, b := all[i].TargetPods(), all[j].TargetPods(); a != b {
			return a < b
		}
		return all[i].Name < all[j].Name
	})
	return all, nil
}

// Load returns a built-in profile by name, or decodes the file at
// nameOrPath. A built-in name wins over a file of the same name in the
// working directory; write ./NAME to load the file. Load does not Validate:
// apply the user's flags first (Overrides.Apply), then Validate.
func Load(nameOrPath string) (Profile, error) {
	if isBuiltin(nameOrPath) {
		return builtin(nameOrPath)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		if os.IsNotExist(err) && !strings.ContainsRune(nameOrPath, filepath.Separator) {
			return Profile{}, fmt.Errorf("no built-in profile or file named %q; built-ins: %s", nameOrPath, strings.Join(Names(), ", "))
		}
		return Profile{}, fmt.Errorf("read profile: %w", err)
	}
	p, err := Decode(data)
	if err != nil {
		return Profile{}, fmt.Errorf("%s: %w", nameOrPath, err)
	}
	if p.Name == "" {
		// A file need not repeat its own name.
		p.Name = strings.TrimSuffix(filepath.Base(nameOrPath), filepath.Ext(nameOrPath))
	}
	return p, nil
}

// Resolve is the whole order of precedence: Load, then the overrides the
// user set, then ValidateWith(knownObserver).
func Resolve(nameOrPath string, o Overrides, knownObserver func(string) bool) (Profile, error) {
	p, err := Load(nameOrPath)
	if err != nil {
		return Profile{}, err
	}
	p = o.Apply(p)
	if err := p.ValidateWith(knownObserver); err != nil {
		return Profile{}, err
	}
	return p, nil
}

func isBuiltin(name string) bool {
	for _, n := range embeddedNames() {
		if n == name {
			return true
		}
	}
	return false
}

func builtin(name string) (Profile, error) {
	data, err := builtinFS.ReadFile(path.Join(builtinDir, name+".yaml"))
	if err != nil {
		return Profile{}, fmt.Errorf("built-in profile %s: %w", name, err)
	}
	p, err := Decode(data)
	if err != nil {
		return Profile{}, fmt.Errorf("built-in profile %s: %w", name, err)
	}
	return p, nil
}

// embeddedNames are the built-in profile names from the embedded file names.
func embeddedNames() []string {
	entries, err := fs.ReadDir(builtinFS, builtinDir)
	if err != nil {
		return nil // cannot happen: the directory is embedded
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	return names
}
