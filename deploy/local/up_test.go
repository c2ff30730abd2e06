package local

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// fakeBinDir writes the five binaries as shell scripts; etcd runs
// etcdScript, the others sleep.
func fakeBinDir(t *testing.T, etcdScript string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range startOrder {
		body := "#!/bin/sh\nexec sleep 60\n"
		if name == Etcd {
			body = "#!/bin/sh\n" + etcdScript + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestUpNamesMissingBinariesAndMakeTarget(t *testing.T) {
	_, err := Up(context.Background(), Options{Dir: t.TempDir(), BinDir: t.TempDir()})
	var mb *MissingBinariesError
	if !errors.As(err, &mb) || len(mb.Missing) != 5 {
		t.Fatalf("err = %v, want MissingBinariesError naming all five", err)
	}
	if !strings.Contains(err.Error(), "make controlplane") || !strings.Contains(err.Error(), "kube-apiserver") {
		t.Fatalf("error %q should name the binary and `make controlplane`", err)
	}
}

func TestUpRejectsUnusableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Up(context.Background(), Options{Dir: filepath.Join(file, "cluster"), BinDir: fakeBinDir(t, "exec sleep 60")})
	if err == nil || !strings.Contains(err.Error(), "cluster directory") {
		t.Fatalf("err = %v, want a cluster directory error", err)
	}
}

func TestUpRejectsPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Up(context.Background(), Options{Dir: t.TempDir(), BinDir: fakeBinDir(t, "exec sleep 60"), Ports: Ports{APIServer: port}})
	if err == nil || !strings.Contains(err.Error(), "kube-apiserver port") || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("err = %v, want a port-in-use error naming kube-apiserver", err)
	}
}

func TestUpReportsEarlyExitWithLogAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	_, err := Up(context.Background(), Options{Dir: dir, BinDir: fakeBinDir(t, "echo 'etcd: cannot bind, boom' >&2; exit 3")})
	if err == nil {
		t.Fatal("Up succeeded with an etcd that exits")
	}
	for _, want := range []string{"etcd", "exited during startup", "exit status 3", "cannot bind, boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := LoadState(dir); !errors.Is(err, ErrNoState) {
		t.Errorf("state left after failed Up: %v", err)
	}
	// The directory lock is released: a new Up gets past it.
	l, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock still held after failed Up: %v", err)
	}
	l.release()
}

func TestUpStopsWhatItStartedOnContextEnd(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "etcd.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	// etcd never becomes healthy: it records its PID and sleeps.
	_, err := Up(ctx, Options{Dir: dir, BinDir: fakeBinDir(t, "echo $$ > "+pidFile+"; exec sleep 60")})
	if err == nil || !strings.Contains(err.Error(), "not healthy") {
		t.Fatalf("err = %v, want a health timeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap the context error", err)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatalf("fake etcd never ran: %v", rerr)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) == nil {
		t.Errorf("fake etcd (pid %d) still exists after the failed Up", pid)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "etcd.log"))
	if !strings.Contains(string(log), "=== churn: starting etcd") {
		t.Errorf("etcd log lacks the start marker: %q", log)
	}
	if _, err := LoadState(dir); !errors.Is(err, ErrNoState) {
		t.Errorf("state left after failed Up: %v", err)
	}
}

func TestKWOKConfigHasStages(t *testing.T) {
	b, err := kwokConfigYAML()
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(b), "\n---\n")
	names := map[string]bool{}
	for _, d := range docs {
		d = strings.TrimPrefix(d, "---\n")
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			t.Fatalf("stage does not parse: %v\n%s", err, d)
		}
		if obj.Kind == "KwokConfiguration" && obj.APIVersion == "config.kwok.x-k8s.io/v1alpha1" {
			continue
		}
		if obj.Kind != "Stage" || obj.APIVersion != "kwok.x-k8s.io/v1alpha1" {
			t.Fatalf("unexpected object %+v", obj)
		}
		names[obj.Metadata.Name] = true
	}
	for _, want := range []string{"churn-node-initialize", "churn-node-heartbeat", "churn-pod-ready", "churn-pod-ready-again", "churn-pod-complete", "churn-pod-delete"} {
		if !names[want] {
			t.Errorf("stage %s missing (have %v)", want, names)
		}
	}
}

func TestSchedulerConfig(t *testing.T) {
	b, err := schedulerConfigYAML("/x/sched.kubeconfig", 120, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Kind             string `json:"kind"`
		ClientConnection struct {
			Kubeconfig string  `json:"kubeconfig"`
			QPS        float64 `json:"qps"`
			Burst      int     `json:"burst"`
		} `json:"clientConnection"`
		LeaderElection struct {
			LeaderElect bool `json:"leaderElect"`
		} `json:"leaderElection"`
		Profiles []any `json:"profiles"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Kind != "KubeSchedulerConfiguration" || cfg.ClientConnection.QPS != 120 || cfg.ClientConnection.Burst != 240 ||
		cfg.ClientConnection.Kubeconfig != "/x/sched.kubeconfig" || cfg.LeaderElection.LeaderElect {
		t.Fatalf("scheduler config = %+v", cfg)
	}
	if cfg.Profiles != nil {
		t.Errorf("default configuration sets profiles %v; a run must schedule with the defaults", cfg.Profiles)
	}
}

func TestSchedulerConfigWithoutDefaultSpread(t *testing.T) {
	b, err := schedulerConfigYAML("/x/sched.kubeconfig", 120, true, false)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Profiles []struct {
			SchedulerName string `json:"schedulerName"`
			PluginConfig  []struct {
				Name string `json:"name"`
				Args struct {
					Kind               string `json:"kind"`
					DefaultingType     string `json:"defaultingType"`
					DefaultConstraints []any  `json:"defaultConstraints"`
				} `json:"args"`
			} `json:"pluginConfig"`
		} `json:"profiles"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Profiles) != 1 || cfg.Profiles[0].SchedulerName != "default-scheduler" || len(cfg.Profiles[0].PluginConfig) != 1 {
		t.Fatalf("profiles = %+v, want one default-scheduler profile with one plugin config", cfg.Profiles)
	}
	pc := cfg.Profiles[0].PluginConfig[0]
	if pc.Name != "PodTopologySpread" || pc.Args.Kind != "PodTopologySpreadArgs" || pc.Args.DefaultingType != "List" || len(pc.Args.DefaultConstraints) != 0 {
		t.Errorf("plugin config = %+v, want PodTopologySpread with defaultingType List and no constraints", pc)
	}
}
