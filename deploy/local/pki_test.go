package local

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s: not a PEM certificate", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func pool(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

func TestPKIServingCertificate(t *testing.T) {
	dir := t.TempDir()
	if _, err := ensurePKI(dir, time.Now()); err != nil {
		t.Fatalf("ensurePKI: %v", err)
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if !ca.IsCA {
		t.Fatal("ca.crt is not a CA")
	}
	srv := readCert(t, filepath.Join(dir, "apiserver.crt"))
	for _, dns := range []string{"localhost", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"} {
		if !slices.Contains(srv.DNSNames, dns) {
			t.Errorf("serving cert lacks DNS SAN %s: %v", dns, srv.DNSNames)
		}
	}
	for _, ip := range []string{"127.0.0.1", "10.96.0.1"} {
		if !slices.ContainsFunc(srv.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
			t.Errorf("serving cert lacks IP SAN %s: %v", ip, srv.IPAddresses)
		}
	}
	for _, host := range []string{"127.0.0.1", "localhost", "kubernetes.default.svc", "10.96.0.1"} {
		if _, err := srv.Verify(x509.VerifyOptions{DNSName: host, Roots: pool(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("serving cert does not verify for %s against the CA: %v", host, err)
		}
	}
}

func TestPKIClientCertificates(t *testing.T) {
	dir := t.TempDir()
	if _, err := ensurePKI(dir, time.Now()); err != nil {
		t.Fatalf("ensurePKI: %v", err)
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	cases := []struct {
		file, cn, org string
	}{
		{"admin", "churn-admin", "system:masters"},
		{"kube-controller-manager", "system:kube-controller-manager", ""},
		{"kube-scheduler", "system:kube-scheduler", ""},
		{"kwok", "churn-kwok", "system:masters"},
	}
	for _, tc := range cases {
		c := readCert(t, filepath.Join(dir, tc.file+".crt"))
		if c.Subject.CommonName != tc.cn {
			t.Errorf("%s: CN = %q, want %q", tc.file, c.Subject.CommonName, tc.cn)
		}
		if tc.org != "" && !slices.Contains(c.Subject.Organization, tc.org) {
			t.Errorf("%s: O = %v, want %q", tc.file, c.Subject.Organization, tc.org)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: client cert does not verify against the CA: %v", tc.file, err)
		}
	}
	// The front-proxy client must verify against its own CA only.
	fp := readCert(t, filepath.Join(dir, "front-proxy-client.crt"))
	fpCA := readCert(t, filepath.Join(dir, "front-proxy-ca.crt"))
	if _, err := fp.Verify(x509.VerifyOptions{Roots: pool(fpCA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("front-proxy client does not verify against front-proxy CA: %v", err)
	}
	if _, err := fp.Verify(x509.VerifyOptions{Roots: pool(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("front-proxy client verifies against the cluster CA")
	}
}

func TestPKIFilesArePrivateAndSAKeyParses(t *testing.T) {
	dir := t.TempDir()
	if _, err := ensurePKI(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "sa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("sa.pub is not PEM")
	}
	if _, err := x509.ParsePKIXPublicKey(blk.Bytes); err != nil {
		t.Fatalf("sa.pub: %v", err)
	}
	if _, _, err := loadKeyPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "sa.key")); err != nil {
		t.Fatalf("sa.key does not parse as PKCS#8: %v", err)
	}
}

func TestPKIReusedThenReissued(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if _, err := ensurePKI(dir, now); err != nil {
		t.Fatal(err)
	}
	serial := readCert(t, filepath.Join(dir, "admin.crt")).SerialNumber
	if _, err := ensurePKI(dir, now); err != nil {
		t.Fatal(err)
	}
	if got := readCert(t, filepath.Join(dir, "admin.crt")).SerialNumber; got.Cmp(serial) != 0 {
		t.Fatal("a valid admin certificate was reissued")
	}
	// A new CA must reissue every leaf it signs.
	if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := ensurePKI(dir, now); err != nil {
		t.Fatal(err)
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	admin := readCert(t, filepath.Join(dir, "admin.crt"))
	if admin.SerialNumber.Cmp(serial) == 0 {
		t.Fatal("admin certificate not reissued after CA change")
	}
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("reissued admin cert does not verify against new CA: %v", err)
	}
	// Near expiry: reissued too.
	if _, err := ensurePKI(dir, now.Add(certValidity-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if readCert(t, filepath.Join(dir, "admin.crt")).SerialNumber.Cmp(admin.SerialNumber) == 0 {
		t.Fatal("admin certificate near expiry was not reissued")
	}
}

func TestKubeconfigsAreWrittenPrivate(t *testing.T) {
	dir := t.TempDir()
	p := paths{dir: dir}
	b, err := ensurePKI(p.pki(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := writeKubeconfigs(p, "https://127.0.0.1:6443", b); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"admin", ControllerManager, Scheduler, KWOK} {
		st, err := os.Stat(p.kubeconfig(n))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s kubeconfig mode %v", n, st.Mode().Perm())
		}
	}
	cfg, err := restConfigFromKubeconfig(p.admin())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" || len(cfg.CertData) == 0 || len(cfg.CAData) == 0 {
		t.Fatalf("admin kubeconfig: host %q, cert %d bytes, CA %d bytes", cfg.Host, len(cfg.CertData), len(cfg.CAData))
	}
}
