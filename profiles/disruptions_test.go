package profiles

import (
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	for _, c := range []struct {
		spec string
		want FaultSpec
	}{
		{"etcd-kill@3m", FaultSpec{Spec: "etcd-kill@3m", Process: "etcd", At: 3 * time.Minute, Down: DefaultFaultDowntime}},
		{" kwok-kill@90s+30s ", FaultSpec{Spec: "kwok-kill@90s+30s", Process: "kwok", At: 90 * time.Second, Down: 30 * time.Second}},
		{"apiserver-kill@0s+1s", FaultSpec{Spec: "apiserver-kill@0s+1s", Process: "kube-apiserver", At: 0, Down: time.Second}},
		{"kube-apiserver-2-kill@1m", FaultSpec{Spec: "kube-apiserver-2-kill@1m", Process: "kube-apiserver-2", At: time.Minute, Down: DefaultFaultDowntime}},
		{"kube-scheduler-kill@1m", FaultSpec{Spec: "kube-scheduler-kill@1m", Process: "kube-scheduler", At: time.Minute, Down: DefaultFaultDowntime}},
	} {
		got, err := ParseFault(c.spec)
		if err != nil || got != c.want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
	for spec, wantErr := range map[string]string{
		"etcd-kill":         "want PROCESS-kill@AT",
		"etcd-stop@3m":      `unknown fault "etcd-stop"`,
		"coredns-kill@3m":   `unknown process "coredns"`,
		"etcd-kill@soon":    `time "soon"`,
		"etcd-kill@-1m":     `time "-1m"`,
		"etcd-kill@1m+0s":   `downtime "0s"`,
		"etcd-kill@1m+ever": `downtime "ever"`,
		"":                  "want PROCESS-kill@AT",
	} {
		if _, err := ParseFault(spec); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseFault(%q) error = %v, want one containing %q", spec, err, wantErr)
		}
	}
}

func TestParseUpgrade(t *testing.T) {
	got, err := ParseUpgrade("kubernetes=v1.37.2@3m")
	if err != nil || got != (UpgradeSpec{Spec: "kubernetes=v1.37.2@3m", To: "v1.37.2", At: 3 * time.Minute}) {
		t.Errorf("ParseUpgrade = %+v, %v", got, err)
	}
	if got, err := ParseUpgrade("kubernetes=v1.38.0-beta.0@90s"); err != nil || got.To != "v1.38.0-beta.0" {
		t.Errorf("pre-release: %+v, %v", got, err)
	}
	for spec, wantErr := range map[string]string{
		"kubernetes=v1.37.2":      "want kubernetes=VERSION@AT",
		"etcd=v3.6.0@1m":          "only Kubernetes is upgraded",
		"kubernetes=1.37@1m":      `release "1.37"`,
		"kubernetes=v1.37.2@soon": `time "soon"`,
	} {
		if _, err := ParseUpgrade(spec); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseUpgrade(%q) error = %v, want one containing %q", spec, err, wantErr)
		}
	}
}

func TestCheckUpgradeSkew(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{"v1.36.3", "v1.37.2", ""},
		{"v1.37.2", "v1.38.0-beta.0", ""},
		{"v1.37.1", "v1.37.2", ""},
		{"v1.36.3", "v1.38.0", "skips a minor release"},
		{"v1.37.2", "v1.36.3", "downgrade"},
		{"v1.37.2", "v1.37.2", "already runs"},
	} {
		err := CheckUpgradeSkew(c.from, c.to)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckUpgradeSkew(%s, %s) = %v, want %q", c.from, c.to, err, c.want)
		}
	}
}

func TestValidateDisruptions(t *testing.T) {
	base, err := Load("smoke")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Profile)
		want string
	}{
		{"fault after churn", func(p *Profile) { p.Disruptions.Faults = []string{"etcd-kill@1h"} }, "disruptions.faults[0]"},
		{"bad fault", func(p *Profile) { p.Disruptions.Faults = []string{"etcd-stop@1s"} }, `disruptions.faults[0]: Invalid value: "etcd-stop@1s"`},
		{"second API server without one", func(p *Profile) { p.Disruptions.Faults = []string{"kube-apiserver-2-kill@1s"} }, "there is no kube-apiserver-2"},
		{"bad upgrade", func(p *Profile) { p.Disruptions.Upgrade = "kubernetes=latest@1s" }, "disruptions.upgrade"},
		{"too many API servers", func(p *Profile) { p.ControlPlane.APIServers = 9 }, "controlPlane.apiservers"},
		{"fine", func(p *Profile) {
			p.ControlPlane.APIServers = 2
			p.Disruptions.Faults = []string{"kube-apiserver-2-kill@1s"}
			p.Disruptions.Upgrade = "kubernetes=v1.37.2@2s"
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
