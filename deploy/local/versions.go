package local

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"sync"
	"time"
)

// versionTimeout bounds one `<binary> --version`; they answer in well
// under a second, but a cold page cache on a busy disk is slow.
const versionTimeout = 30 * time.Second

// semver finds the first version number in --version output:
// "etcd Version: 3.7.0", "Kubernetes v1.37.2",
// "kwok version v0.8.0-churn.1 go1.26.8 (linux/amd64)". The pre-release
// and build suffixes are kept: they tell kwok built with churn's patches
// (hack/build-kwok.sh) from upstream's in a snapshot's manifest.
var semver = regexp.MustCompile(`\bv?(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)`)

// BinaryVersions runs each control-plane binary that Up would start (see
// CheckBinariesFor) with --version and returns its version ("v1.37.2") by
// process name; binDir "" is Up's default. It reads what the binaries are, not what churn was built to
// expect, so a bin/ rebuilt from another pin is seen as such.
func BinaryVersions(ctx context.Context, binDir, kubernetesVersion string) (map[string]string, error) {
	if binDir == "" {
		binDir = defaultBinDir
	}
	bins, err := CheckBinariesFor(binDir, kubernetesVersion)
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  = make(map[string]string, len(bins))
		errs = make(map[string]error)
	)
	for name, path := range bins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := binaryVersion(ctx, path)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[name] = err
				return
			}
			out[name] = v
		}()
	}
	wg.Wait()
	for _, name := range startOrder {
		if err := errs[name]; err != nil {
			return nil, err
		}
	}
	return out, nil
}

func binaryVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	b, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", path, err, firstLine(b))
	}
	m := semver.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s --version printed no version: %q", path, firstLine(b))
	}
	return "v" + string(m[1]), nil
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
