package profiles

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseRollout(t *testing.T) {
	for _, c := range []struct {
		spec string
		want RolloutSpec
	}{
		{"cilium-agent@3m,maxUnavailable=10%", RolloutSpec{Spec: "cilium-agent@3m,maxUnavailable=10%", Component: RolloutCiliumAgent, At: 3 * time.Minute, Percent: 10}},
		{" cilium-operator@90s ", RolloutSpec{Spec: "cilium-operator@90s", Component: RolloutCiliumOperator, At: 90 * time.Second, MaxUnavailable: DefaultMaxUnavailable}},
		{"istio-cni@0s,maxUnavailable=2", RolloutSpec{Spec: "istio-cni@0s,maxUnavailable=2", Component: RolloutIstioCNI, MaxUnavailable: 2}},
		{"istiod@1m,maxUnavailable=100%", RolloutSpec{Spec: "istiod@1m,maxUnavailable=100%", Component: RolloutIstiod, At: time.Minute, Percent: 100}},
	} {
		got, err := ParseRollout(c.spec)
		if err != nil || got != c.want {
			t.Errorf("ParseRollout(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
	for spec, wantErr := range map[string]string{
		"cilium-agent":                        "want COMPONENT@AT",
		"coredns@1m":                          `unknown component "coredns"`,
		"ztunnel@1m":                          "ztunnel is not emulated",
		"cilium-agent@soon":                   `time "soon"`,
		"cilium-agent@-1m":                    `time "-1m"`,
		"cilium-agent@1m,maxUnavailable=0":    `maxUnavailable "0"`,
		"cilium-agent@1m,maxUnavailable=0%":   `maxUnavailable "0%"`,
		"cilium-agent@1m,maxUnavailable=101%": `maxUnavailable "101%"`,
		"cilium-agent@1m,maxUnavailable=-2":   `maxUnavailable "-2"`,
		"cilium-agent@1m,maxUnavailable=lots": `maxUnavailable "lots"`,
		"cilium-agent@1m,maxSurge=1":          `unknown setting "maxSurge=1"`,
		"":                                    "want COMPONENT@AT",
	} {
		if _, err := ParseRollout(spec); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseRollout(%q) error = %v, want one containing %q", spec, err, wantErr)
		}
	}
}

func TestRolloutWaves(t *testing.T) {
	agents := make([]string, 10)
	for i := range agents {
		agents[i] = fmt.Sprintf("a%d", i)
	}
	for _, c := range []struct {
		spec  string
		n     int
		sizes []int
	}{
		{"cilium-agent@0s,maxUnavailable=2", 10, []int{2, 2, 2, 2, 2}},
		{"cilium-agent@0s,maxUnavailable=50%", 10, []int{5, 5}},
		{"cilium-agent@0s,maxUnavailable=3", 10, []int{3, 3, 3, 1}},
		// A percentage rounds up, as the DaemonSet controller's does.
		{"cilium-agent@0s,maxUnavailable=10%", 5, []int{1, 1, 1, 1, 1}},
		{"cilium-agent@0s,maxUnavailable=30%", 5, []int{2, 2, 1}},
		{"cilium-agent@0s,maxUnavailable=20", 10, []int{10}},
		{"cilium-operator@0s", 2, []int{1, 1}},
		{"istiod@0s", 0, nil},
	} {
		r, err := ParseRollout(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		waves := r.Waves(agents[:c.n])
		var sizes []int
		seen := 0
		for _, w := range waves {
			sizes = append(sizes, len(w))
			for _, a := range w {
				if a != agents[seen] {
					t.Errorf("%s: agent %s out of order, want %s", c.spec, a, agents[seen])
				}
				seen++
			}
		}
		if fmt.Sprint(sizes) != fmt.Sprint(c.sizes) || seen != c.n {
			t.Errorf("%s of %d: waves %v (%d agents), want %v", c.spec, c.n, sizes, seen, c.sizes)
		}
	}
}

func TestValidateRollouts(t *testing.T) {
	base, err := Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Profile)
		want string
	}{
		{"no mesh", func(p *Profile) { p.Mesh.Name = MeshNone; p.Disruptions.Rollouts = []string{"cilium-agent@1s"} },
			`disruptions.rollouts[0]: Invalid value: "cilium-agent@1s": mesh none runs no cilium-agent`},
		{"other mesh", func(p *Profile) {
			p.Mesh.Name = MeshCilium
			p.Disruptions.Rollouts = []string{"cilium-agent@1s", "istiod@1s"}
		}, "disruptions.rollouts[1]: Invalid value: \"istiod@1s\": mesh cilium runs no istiod"},
		{"after churn", func(p *Profile) { p.Mesh.Name = MeshCilium; p.Disruptions.Rollouts = []string{"cilium-agent@1h"} },
			"disruptions.rollouts[0]: Invalid value: \"cilium-agent@1h\": 1h0m0s is not within the churn phase"},
		{"zero", func(p *Profile) {
			p.Mesh.Name = MeshCilium
			p.Disruptions.Rollouts = []string{"cilium-agent@1s,maxUnavailable=0"}
		}, `disruptions.rollouts[0]: Invalid value: "cilium-agent@1s,maxUnavailable=0"`},
		// Real components restart as processes.
		{"real istiod", func(p *Profile) {
			p.Mesh.Name, p.Mesh.Istiod = MeshIstioAmbient, IstiodReal
			p.Disruptions.Rollouts = []string{"istiod@1s"}
		}, ""},
		{"real cilium", func(p *Profile) {
			p.Mesh.Name, p.Mesh.Cilium = MeshCilium, CiliumReal
			p.Disruptions.Rollouts = []string{"cilium-agent@1s,maxUnavailable=50%", "cilium-operator@2s"}
		}, ""},
		{"fine", func(p *Profile) {
			p.Mesh.Name, p.Mesh.Istiod = MeshIstioAmbient, IstiodReal
			p.Disruptions.Rollouts = []string{"istio-cni@1s,maxUnavailable=50%"}
		}, ""},
		{"override", func(p *Profile) {
			rs := []string{"cilium-operator@2s"}
			*p = Overrides{Mesh: ptr(MeshCiliumCES), Rollouts: &rs}.Apply(*p)
		}, ""},
	} {
		p := base
		c.edit(&p)
		err := p.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate() = %v, want %q", c.name, err, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
