package local

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestAuditOffByDefault(t *testing.T) {
	o, err := Options{Dir: t.TempDir()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range buildComponents(o, paths{dir: o.Dir}, Ports{}, map[string]string{}) {
		for _, a := range c.args {
			if strings.HasPrefix(a, "--audit-") {
				t.Errorf("%s has %s without audit options", c.name, a)
			}
		}
	}
}

// A log path alone turns auditing on with the default policy written next
// to the log, and kube-apiserver gets absolute paths.
func TestAuditLogPathWritesPolicyAndFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	o, err := Options{Dir: "cluster", Audit: AuditOptions{LogPath: "audit/audit.log"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	wantLog := filepath.Join(dir, "audit", "audit.log")
	wantPolicy := filepath.Join(dir, "audit", "audit-policy.yaml")
	if o.Audit.LogPath != wantLog || o.Audit.PolicyFile != wantPolicy {
		t.Errorf("audit options = %+v, want log %s, policy %s", o.Audit, wantLog, wantPolicy)
	}
	policy, err := os.ReadFile(wantPolicy)
	if err != nil || string(policy) != MetadataAuditPolicy {
		t.Errorf("policy file = %q, %v", policy, err)
	}
	var apiArgs []string
	for _, c := range buildComponents(o, paths{dir: o.Dir}, Ports{}, map[string]string{}) {
		if c.name == APIServer {
			apiArgs = c.args
		}
	}
	for _, want := range []string{"--audit-log-path=" + wantLog, "--audit-policy-file=" + wantPolicy, "--audit-log-format=json"} {
		if !slices.Contains(apiArgs, want) {
			t.Errorf("kube-apiserver args lack %s", want)
		}
	}
	if !slices.Contains(apiArgs, "--allow-privileged=true") {
		t.Error("the audit flags replaced kube-apiserver's own flags")
	}
}

func TestAuditPolicyWithoutLogIsRefused(t *testing.T) {
	_, err := Options{Dir: t.TempDir(), Audit: AuditOptions{PolicyFile: "p.yaml"}}.withDefaults()
	if err == nil || !strings.Contains(err.Error(), "LogPath") {
		t.Fatalf("withDefaults() = %v, want an error naming LogPath", err)
	}
}
