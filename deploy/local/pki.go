package local

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certificates are valid for a year: a cluster directory kept with
// keepData is reused by a later Up, which regenerates anything near expiry.
const (
	certValidity    = 365 * 24 * time.Hour
	certRenewBefore = 24 * time.Hour
	// certBackdate tolerates small clock differences between processes.
	certBackdate = time.Hour
)

// leafSpec describes one certificate signed by the cluster CA.
type leafSpec struct {
	file   string // base name: <file>.crt and <file>.key in pki/
	ca     string // signing CA: caCluster unless set
	cn     string
	orgs   []string
	server bool // serving cert (ExtKeyUsageServerAuth) else client cert
	dns    []string
	ips    []net.IP
}

// Leaf names in pki/.
const (
	certAPIServer         = "apiserver"
	certServing           = "serving" // controller-manager, scheduler
	certAdmin             = "admin"
	certControllerManager = "kube-controller-manager"
	certScheduler         = "kube-scheduler"
	certKWOK              = "kwok"
	certFrontProxyClient  = "front-proxy-client"
	caCluster             = "ca"
	// caFrontProxy signs only the client certificate kube-apiserver uses
	// when it proxies to aggregated API servers; a separate CA keeps
	// cluster client certificates from being accepted as a proxy.
	caFrontProxy = "front-proxy-ca"
	fileCACert   = "ca.crt"
	fileCAKey    = "ca.key"
	fileSAKey    = "sa.key"
	fileSAPub    = "sa.pub"
)

// AdminUser is the common name of the admin client certificate.
const AdminUser = "churn-admin"

func leafSpecs() []leafSpec {
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	return []leafSpec{
		{
			file: certAPIServer, cn: "kube-apiserver", server: true,
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			ips: []net.IP{net.IPv4(127, 0, 0, 1), net.ParseIP(serviceClusterIP)},
		},
		{file: certServing, cn: "churn-components", server: true, dns: []string{"localhost"}, ips: loopback},
		{file: certAdmin, cn: AdminUser, orgs: []string{"system:masters"}},
		{file: certControllerManager, cn: "system:kube-controller-manager"},
		{file: certScheduler, cn: "system:kube-scheduler"},
		// kwok patches status of nodes and pods and deletes pods, leases
		// included; system:masters keeps its RBAC out of churn's way.
		{file: certKWOK, cn: "churn-kwok", orgs: []string{"system:masters"}},
		{file: certFrontProxyClient, cn: "front-proxy-client", ca: caFrontProxy},
	}
}

// pkiBundle is the loaded PKI of a cluster directory.
type pkiBundle struct {
	caCert *x509.Certificate
	caPEM  []byte
	// leaves by file name: PEM cert and key.
	leaves map[string]keyPairPEM
}

type keyPairPEM struct{ cert, key []byte }

// ensurePKI loads the PKI in dir, generating whatever is missing, invalid or
// near expiry. A new CA invalidates its leaves, so they are reissued.
func ensurePKI(dir string, now time.Time) (*pkiBundle, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating pki directory: %w", err)
	}
	type ca struct {
		cert *x509.Certificate
		key  crypto.Signer
		pool *x509.CertPool
	}
	cas := map[string]ca{}
	for _, name := range []string{caCluster, caFrontProxy} {
		cert, key, err := loadKeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
		if err != nil || !certFresh(cert, now) {
			cert, key, err = newCA(name, now)
			if err != nil {
				return nil, err
			}
			if err := writeKeyPair(dir, name, cert, key); err != nil {
				return nil, err
			}
		}
		pool := x509.NewCertPool()
		pool.AddCert(cert)
		cas[name] = ca{cert: cert, key: key, pool: pool}
	}
	b := &pkiBundle{caCert: cas[caCluster].cert, caPEM: encodeCert(cas[caCluster].cert), leaves: map[string]keyPairPEM{}}
	for _, spec := range leafSpecs() {
		if spec.ca == "" {
			spec.ca = caCluster
		}
		signer := cas[spec.ca]
		certPath, keyPath := filepath.Join(dir, spec.file+".crt"), filepath.Join(dir, spec.file+".key")
		cert, key, err := loadKeyPair(certPath, keyPath)
		if err != nil || !leafValid(cert, spec, signer.pool, now) {
			cert, key, err = newLeaf(spec, signer.cert, signer.key, now)
			if err != nil {
				return nil, fmt.Errorf("issuing %s certificate: %w", spec.file, err)
			}
			if err := writeKeyPair(dir, spec.file, cert, key); err != nil {
				return nil, err
			}
		}
		keyPEM, err := encodeKey(key)
		if err != nil {
			return nil, err
		}
		b.leaves[spec.file] = keyPairPEM{cert: encodeCert(cert), key: keyPEM}
	}
	if err := ensureSAKey(dir); err != nil {
		return nil, err
	}
	return b, nil
}

func certFresh(c *x509.Certificate, now time.Time) bool {
	return now.After(c.NotBefore) && now.Add(certRenewBefore).Before(c.NotAfter)
}

// leafValid reports whether cert was signed by the current CA, is fresh and
// still matches spec (so a changed SAN list reissues it).
func leafValid(cert *x509.Certificate, spec leafSpec, pool *x509.CertPool, now time.Time) bool {
	if !certFresh(cert, now) || cert.Subject.CommonName != spec.cn {
		return false
	}
	usage := x509.ExtKeyUsageClientAuth
	if spec.server {
		usage = x509.ExtKeyUsageServerAuth
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return false
	}
	for _, ip := range spec.ips {
		if cert.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	for _, d := range spec.dns {
		if cert.VerifyHostname(d) != nil {
			return false
		}
	}
	return true
}

func newCA(name string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating %s key: %w", name, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "churn-" + name},
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signing %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing %s: %w", name, err)
	}
	return cert, key, nil
}

func newLeaf(spec leafSpec, ca *x509.Certificate, caKey crypto.Signer, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	usage := x509.ExtKeyUsageClientAuth
	if spec.server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.cn, Organization: spec.orgs},
		NotBefore:    now.Add(-certBackdate),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing: %w", err)
	}
	return cert, key, nil
}

// ensureSAKey writes the service-account signing key pair if missing. ES256
// is accepted by kube-apiserver for service-account tokens and is cheaper
// to generate and sign with than RSA.
func ensureSAKey(dir string) error {
	keyPath, pubPath := filepath.Join(dir, fileSAKey), filepath.Join(dir, fileSAPub)
	if _, err := os.Stat(keyPath); err == nil {
		if _, err := os.Stat(pubPath); err == nil {
			return nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating service-account key: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("encoding service-account public key: %w", err)
	}
	if err := writeFile0600(keyPath, keyPEM); err != nil {
		return err
	}
	return writeFile0600(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return serial, nil
}

func encodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func encodeKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func writeKeyPair(dir, name string, cert *x509.Certificate, key crypto.Signer) error {
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := writeFile0600(filepath.Join(dir, name+".key"), keyPEM); err != nil {
		return err
	}
	return writeFile0600(filepath.Join(dir, name+".crt"), encodeCert(cert))
}

func loadKeyPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, errors.New("key is not a signer")
	}
	return cert, signer, nil
}

// writeFile0600 writes atomically (temp file and rename) with mode 0600:
// the files hold private keys or credentials.
func writeFile0600(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
