package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// BuildHint tells a user how to produce the binaries.
const BuildHint = "build them with `make controlplane`"

// MissingBinariesError lists the control-plane binaries absent from BinDir.
type MissingBinariesError struct {
	BinDir  string
	Missing []string
}

func (e *MissingBinariesError) Error() string {
	return fmt.Sprintf("control-plane binaries missing from %s: %s; %s", e.BinDir, strings.Join(e.Missing, ", "), BuildHint)
}

// CheckBinaries returns the path of each binary by process name, or a
// *MissingBinariesError naming every binary that is absent or not
// executable.
func CheckBinaries(binDir string) (map[string]string, error) {
	out := make(map[string]string, len(startOrder))
	var missing []string
	for _, name := range startOrder {
		p := filepath.Join(binDir, name)
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, name)
			continue
		case err != nil:
			return nil, fmt.Errorf("checking %s: %w", p, err)
		case st.IsDir() || st.Mode().Perm()&0o111 == 0:
			missing = append(missing, name+" (not an executable file)")
			continue
		}
		out[name] = p
	}
	if len(missing) > 0 {
		return nil, &MissingBinariesError{BinDir: binDir, Missing: missing}
	}
	return out, nil
}
