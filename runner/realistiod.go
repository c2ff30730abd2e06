package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/churn-dev/churn/agents"
	"github.com/churn-dev/churn/agents/realistiod"
	"github.com/churn-dev/churn/observers"
	"github.com/churn-dev/churn/profiles"
)

// istiodComponent is the emulated component the real istiod replaces.
const istiodComponent = "istiod"

// RealIstiodBinary is where a run looks for pilot-discovery (make istiod).
func RealIstiodBinary(binDir string) string {
	if binDir == "" {
		binDir = "bin"
	}
	return filepath.Join(binDir, realistiod.BinaryName)
}

// CheckRealIstiod fails early, before any cluster work, when a profile asks
// for the real istiod and bin/pilot-discovery is missing.
func CheckRealIstiod(o Options) error {
	if o.Profile.Mesh.Istiod != profiles.IstiodReal {
		return nil
	}
	bin := RealIstiodBinary(o.BinDir)
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("mesh.istiod real needs %s (build it with make istiod): %w", bin, err)
	}
	return nil
}

// standIns returns the real processes that replace emulated components:
// the real istiod when the profile asks for it. Its log and working files
// go to <out>/istiod/.
func (r *run) standIns() (map[string]agents.StandIn, *realistiod.Istiod, error) {
	if r.opts.Profile.Mesh.Istiod != profiles.IstiodReal {
		return nil, nil, nil
	}
	p, err := realistiod.New(realistiod.Options{
		Binary: RealIstiodBinary(r.opts.BinDir),
		Dir:    filepath.Join(r.opts.OutDir, "istiod"),
		Logger: r.log,
		// A rollout's restart starts a new process.
		OnStarted: func(pid int) { r.sampleRealProcess(realistiod.BinaryName, pid) },
	})
	if err != nil {
		return nil, nil, err
	}
	return map[string]agents.StandIn{istiodComponent: p}, p, nil
}

// noteRealIstiod tells the user where the real istiod runs.
func (r *run) noteRealIstiod(p *realistiod.Istiod) {
	if p == nil {
		return
	}
	fmt.Fprintf(r.progress(), "  istiod: real pilot-discovery (pid %d), ready after %s; log %s\n",
		p.PID(), p.ReadyAfter().Round(100*time.Millisecond), p.LogPath())
	if r.controlPlane != nil {
		r.controlPlane.add(observers.Process{Name: realistiod.BinaryName, PID: p.PID(), Role: observers.RoleMesh})
	}
}
