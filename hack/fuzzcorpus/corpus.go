// Package fuzzcorpus records seed corpora for churn's fuzz targets from a
// real local control plane (see capture_test.go) and writes them in the
// file format of Go's native fuzzing.
package fuzzcorpus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Entry writes one corpus file for a fuzz target. Args are the values
// passed to the fuzz function after *testing.T, in order; only the types
// churn's targets take are supported.
func Entry(args ...any) ([]byte, error) {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case string:
			fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(v))
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", v)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", v)
		default:
			return nil, fmt.Errorf("corpus entry: unsupported argument type %T", a)
		}
	}
	return []byte(b.String()), nil
}

// Write stores one entry as <dir>/testdata/fuzz/<target>/<name>. The name
// carries a short digest of the content, so a re-capture with different
// bytes adds a file rather than silently replacing a seed a crasher was
// minimised from; Prune removes the previous capture's files first.
func Write(pkgDir, target, name string, args ...any) error {
	data, err := Entry(args...)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", target, name, err)
	}
	dir := filepath.Join(pkgDir, "testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("corpus dir: %w", err)
	}
	sum := sha256.Sum256(data)
	file := filepath.Join(dir, capturedPrefix+name+"-"+hex.EncodeToString(sum[:4]))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("write corpus entry: %w", err)
	}
	return nil
}

// capturedPrefix marks files this tool wrote; crashers the fuzzer wrote
// (hex names) and handwritten seeds are left alone by Prune.
const capturedPrefix = "captured-"

// Prune removes every captured entry of target.
func Prune(pkgDir, target string) error {
	dir := filepath.Join(pkgDir, "testdata", "fuzz", target)
	files, err := filepath.Glob(filepath.Join(dir, capturedPrefix+"*"))
	if err != nil {
		return fmt.Errorf("list corpus: %w", err)
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("prune corpus: %w", err)
		}
	}
	return nil
}
