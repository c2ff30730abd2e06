package report

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churn-dev/churn/results"
)

const chromium = "/usr/bin/chromium"

// requireBrowser skips without Debian's chromium unless
// CHURN_REQUIRE_BROWSER=1, where it fails.
func requireBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CHURN_REQUIRE_BROWSER") == "1" {
			t.Fatalf("CHURN_REQUIRE_BROWSER=1 but %s is missing: %v", chromium, err)
		}
		t.Skipf("skipping browser check: %s missing (apt-get install chromium; CHURN_REQUIRE_BROWSER=1 fails instead)", chromium)
	}
}

// headless runs chromium on a local file with everything that could reach
// the network turned off; the report must not need it.
func headless(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestReportRendersInChromium(t *testing.T) {
	requireBrowser(t)
	dir := t.TempDir()
	path, err := WriteHTMLFile(dir, syntheticResult(t))
	if err != nil {
		t.Fatal(err)
	}
	url := "file://" + path

	dom := string(headless(t, "--dump-dom", url))
	if n := strings.Count(dom, `<svg class="chart"`); n < 5 {
		t.Errorf("chromium's DOM holds %d charts, want at least 5", n)
	}
	if !strings.Contains(dom, "Service level objectives") {
		t.Error("chromium's DOM lacks the SLO section")
	}

	shot := filepath.Join(dir, "report.png")
	headless(t, "--screenshot="+shot, "--window-size=1100,2400", "--hide-scrollbars", url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	var ink, red, total int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			total++
			if r < 235 || g < 235 || bl < 235 {
				ink++
			}
			if r > 180 && g < 80 && bl < 80 {
				red++ // the failed-verdict banner
			}
		}
	}
	t.Logf("screenshot %dx%d: %.1f%% non-white, %d red pixels", b.Dx(), b.Dy(), 100*float64(ink)/float64(total), red)
	if float64(ink)/float64(total) < 0.03 {
		t.Errorf("screenshot is nearly blank: %d of %d pixels drawn", ink, total)
	}
	if red < 1000 {
		t.Errorf("screenshot shows no red FAIL banner (%d red pixels)", red)
	}
	// CHURN_REPORT_SCREENSHOT=file.png keeps the screenshot (and the HTML
	// beside it) for a human to look at.
	if out := os.Getenv("CHURN_REPORT_SCREENSHOT"); out != "" {
		for src, dst := range map[string]string{shot: out, path: strings.TrimSuffix(out, ".png") + ".html"} {
			if b, err := os.ReadFile(src); err == nil {
				_ = os.WriteFile(dst, b, 0o644)
			}
		}
	}
}

// TestRenderStoredRun renders a real run's results.json in chromium when
// CHURN_REPORT_FROM names its directory (a manual check of real data).
func TestRenderStoredRun(t *testing.T) {
	dir := os.Getenv("CHURN_REPORT_FROM")
	if dir == "" {
		t.Skip("set CHURN_REPORT_FROM=<run dir> to render a stored run")
	}
	requireBrowser(t)
	r, err := results.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	path, err := WriteHTMLFile(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	headless(t, "--screenshot="+filepath.Join(dir, "report.png"), "--window-size=1100,7000", "--hide-scrollbars", "file://"+path)
	var sb strings.Builder
	if err := Summary(&sb, r, path); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + sb.String())
}
