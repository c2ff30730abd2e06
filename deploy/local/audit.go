package local

import (
	"fmt"
	"os"
	"path/filepath"
)

// AuditOptions turns on kube-apiserver's audit log: the API server's own
// record of every request with its user, user agent, verb and resource,
// which is how a client's request mix is measured without trusting the
// client. The zero value leaves auditing off.
type AuditOptions struct {
	// LogPath is the audit log (JSON lines). Setting it turns auditing on.
	LogPath string
	// PolicyFile is the audit policy; empty writes Policy (default
	// MetadataAuditPolicy) next to the log.
	PolicyFile string
	Policy     string
}

// ListWatchAuditPolicy records only LISTs (when answered) and WATCHes
// (when their response starts): enough to count relists and re-watches by
// client during a disruption at a fraction of a full log's cost.
const ListWatchAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["list", "watch"]
- level: None
`

// MetadataAuditPolicy records every request at the Metadata level (no
// bodies) once it has been answered; a WATCH is also recorded when its
// response starts, so open watches show up before they end. Consumers
// count each auditID once.
const MetadataAuditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

func (a AuditOptions) enabled() bool { return a.LogPath != "" }

// resolve makes the paths absolute (kube-apiserver runs in the cluster
// directory) and writes the default policy when none is given.
func (a *AuditOptions) resolve() error {
	if !a.enabled() {
		if a.PolicyFile != "" {
			return fmt.Errorf("audit: PolicyFile %s given without LogPath", a.PolicyFile)
		}
		return nil
	}
	var err error
	if a.LogPath, err = filepath.Abs(a.LogPath); err != nil {
		return fmt.Errorf("audit: resolving log path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(a.LogPath), 0o700); err != nil {
		return fmt.Errorf("audit: creating log directory: %w", err)
	}
	if a.PolicyFile == "" {
		a.PolicyFile = filepath.Join(filepath.Dir(a.LogPath), "audit-policy.yaml")
		policy := a.Policy
		if policy == "" {
			policy = MetadataAuditPolicy
		}
		if err := writeFile0600(a.PolicyFile, []byte(policy)); err != nil {
			return fmt.Errorf("audit: writing policy: %w", err)
		}
	}
	if a.PolicyFile, err = filepath.Abs(a.PolicyFile); err != nil {
		return fmt.Errorf("audit: resolving policy path: %w", err)
	}
	return nil
}

// apiServerArgs are kube-apiserver's audit flags. The log backend blocks
// the request until its event is written, so no event is dropped.
func (a AuditOptions) apiServerArgs() []string {
	if !a.enabled() {
		return nil
	}
	return []string{
		"--audit-policy-file=" + a.PolicyFile,
		"--audit-log-path=" + a.LogPath,
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
	}
}
