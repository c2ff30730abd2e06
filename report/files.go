package report

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/churn-dev/churn/results"
)

// FileName is the report's name inside a run's output directory.
const FileName = "report.html"

// WriteHTMLFile writes dir/report.html (atomically) and returns its path.
func WriteHTMLFile(dir string, r *results.Result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create report dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", tmp, err)
	}
	bw := bufio.NewWriter(f)
	err = WriteHTML(bw, r)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// WriteFiles writes dir/results.json and dir/report.html beside it and
// returns the report's path.
func WriteFiles(dir string, r *results.Result) (string, error) {
	if err := results.Write(dir, r); err != nil {
		return "", err
	}
	return WriteHTMLFile(dir, r)
}
