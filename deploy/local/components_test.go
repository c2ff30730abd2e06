package local

import (
	"slices"
	"strings"
	"testing"
)

func envOf(t *testing.T, o Options) map[string][]string {
	t.Helper()
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string][]string{}
	for _, c := range buildComponents(o, paths{dir: o.Dir}, Ports{}, map[string]string{}) {
		env[c.name] = c.env
	}
	return env
}

// kube-apiserver, whose CPU and memory a run measures, keeps Go's default
// GOGC unless asked; the helpers around it always run with helperGOGC.
func TestGOGCOnlyForHelpersByDefault(t *testing.T) {
	env := envOf(t, Options{Dir: t.TempDir()})
	for _, e := range env[APIServer] {
		if strings.HasPrefix(e, "GOGC=") {
			t.Errorf("kube-apiserver env has %s without APIServerGOGC", e)
		}
	}
	for _, name := range []string{Etcd, ControllerManager, Scheduler, KWOK} {
		if !slices.Contains(env[name], helperGOGC) {
			t.Errorf("%s env = %v, want %s", name, env[name], helperGOGC)
		}
	}
	if !slices.ContainsFunc(env[KWOK], func(e string) bool { return strings.HasPrefix(e, "KWOK_WORKDIR=") }) {
		t.Errorf("kwok env = %v lost KWOK_WORKDIR", env[KWOK])
	}
}

func TestAPIServerGOGC(t *testing.T) {
	env := envOf(t, Options{Dir: t.TempDir(), APIServerGOGC: 400})
	if !slices.Equal(env[APIServer], []string{"GOGC=400"}) {
		t.Errorf("kube-apiserver env = %v, want [GOGC=400]", env[APIServer])
	}
	if _, err := (Options{Dir: t.TempDir(), APIServerGOGC: -1}).withDefaults(); err == nil || !strings.Contains(err.Error(), "APIServerGOGC") {
		t.Errorf("withDefaults(APIServerGOGC -1) = %v, want an error naming APIServerGOGC", err)
	}
}
