package profiles

import (
	"strings"
	"testing"
)

// controlPlane.cpus reads as a YAML number or string, Kubernetes quantity
// style, and keeps what was written through a round trip.
func TestControlPlaneCPUsDecode(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want CPUs
		set  CPUSetting
	}{
		{"", CPUsAuto, CPUSetting{Auto: true}},
		{"controlPlane:\n  cpus: 1.5\n", "1.5", CPUSetting{Millicores: 1500}},
		{"controlPlane:\n  cpus: \"1500m\"\n", "1500m", CPUSetting{Millicores: 1500}},
		{"controlPlane:\n  cpus: 2\n", "2", CPUSetting{Millicores: 2000}},
		{"controlPlane:\n  cpus: 0\n", "0", CPUSetting{}},
		{"controlPlane:\n  cpus: \"off\"\n", CPUsOff, CPUSetting{}},
		{"controlPlane:\n  cpus: off\n", CPUsOff, CPUSetting{}},
		{"controlPlane:\n  cpus: auto\n", CPUsAuto, CPUSetting{Auto: true}},
		{"controlPlane:\n  cpus: 0.1\n", "0.1", CPUSetting{Millicores: 100}},
	} {
		p, err := Decode([]byte(header + "name: x\n" + tc.doc))
		if err != nil {
			t.Fatalf("%q: Decode: %v", tc.doc, err)
		}
		if p.ControlPlane.CPUs != tc.want {
			t.Errorf("%q: cpus = %q, want %q", tc.doc, p.ControlPlane.CPUs, tc.want)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%q: Validate: %v", tc.doc, err)
		}
		got, err := p.ControlPlane.CPUs.Parse()
		if err != nil || got != tc.set {
			t.Errorf("%q: Parse = %+v, %v; want %+v", tc.doc, got, err, tc.set)
		}
		b, err := Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil || back.ControlPlane.CPUs != tc.want {
			t.Errorf("%q: round trip = %q, %v; want %q\n%s", tc.doc, back.ControlPlane.CPUs, err, tc.want, b)
		}
	}
	// Unquoted off is YAML 1.1's false, read as off above; true or a list
	// is a type error naming the field.
	for _, doc := range []string{"controlPlane:\n  cpus: true\n", "controlPlane:\n  cpus: [1]\n"} {
		if _, err := Decode([]byte(header + "name: x\n" + doc)); err == nil || !strings.Contains(err.Error(), "controlPlane.cpus") {
			t.Errorf("%q: Decode = %v, want an error naming controlPlane.cpus", doc, err)
		}
	}
}

// Bad values are refused by Validate with the field path and the value.
func TestValidateControlPlaneCPUs(t *testing.T) {
	for _, tc := range []struct {
		cpus CPUs
		want string
	}{
		{"-1", "must not be negative"},
		{"-0.5", "must not be negative"},
		{"NaN", "not a number"},
		{".nan", "not a number"},
		{"0.05", "below the minimum of 0.1 cores"},
		{"50m", "below the minimum of 0.1 cores"},
		{"0.0001", "below the minimum of 0.1 cores"},
		{"1Ki", "want a number of cores"},
		{"1e3", "want a number of cores"},
		{"lots", "want a number of cores"},
		{"200000", "more than 100000 cores"},
	} {
		p := Defaults()
		p.Name = "x"
		p.ControlPlane.CPUs = tc.cpus
		err := p.Validate()
		if err == nil {
			t.Errorf("cpus %q accepted", tc.cpus)
			continue
		}
		if want := `controlPlane.cpus: Invalid value: "` + string(tc.cpus) + `"`; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cpus %q: %v, want %q and %q", tc.cpus, err, want, tc.want)
		}
		if tc.cpus.Explicit() {
			t.Errorf("cpus %q counts as an explicit budget", tc.cpus)
		}
	}
	for _, c := range []CPUs{"1.5", "1500m", "2"} {
		if !c.Explicit() {
			t.Errorf("%q is not an explicit budget", c)
		}
	}
	for _, c := range []CPUs{"", CPUsAuto, CPUsOff, "0", "0m", "0.0"} {
		if c.Explicit() {
			t.Errorf("%q counts as an explicit budget", c)
		}
	}
}

// --control-plane-cpus wins over the profile; unset, the profile's stays.
func TestOverridesControlPlaneCPUs(t *testing.T) {
	p := Defaults()
	p.ControlPlane.CPUs = "1"
	if got := (Overrides{}).Apply(p).ControlPlane.CPUs; got != "1" {
		t.Errorf("no flag: cpus %q, want the profile's 1", got)
	}
	flag := CPUs("1.5")
	if got := (Overrides{ControlPlaneCPUs: &flag}).Apply(p).ControlPlane.CPUs; got != "1.5" {
		t.Errorf("flag 1.5: cpus %q", got)
	}
}
