package local

import (
	"net"
	"strings"
	"testing"
)

// busyPort holds a loopback port the kernel picked until the test ends: a
// test must not count on any fixed port being free (a parallel control
// plane may hold it) or busy.
func busyPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestResolvePortsFillsFreePorts(t *testing.T) {
	p, err := resolvePorts(Ports{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, n := range []int{p.Etcd, p.EtcdPeer, p.APIServer, p.ControllerManager, p.Scheduler, p.KWOK} {
		if n == 0 || seen[n] {
			t.Fatalf("ports %+v: zero or duplicate", p)
		}
		seen[n] = true
	}
}

// A port given twice is a mistake in the input: it is named as such even
// when the port is also in use.
func TestResolvePortsDuplicateBeforeAvailability(t *testing.T) {
	port := busyPort(t)
	_, err := resolvePorts(Ports{Etcd: port, APIServer: port}, 1)
	if err == nil || !strings.Contains(err.Error(), "both etcd client and kube-apiserver") {
		t.Fatalf("duplicate port %d: err = %v, want one naming etcd client and kube-apiserver", port, err)
	}
}

func TestResolvePortsInUse(t *testing.T) {
	port := busyPort(t)
	_, err := resolvePorts(Ports{Scheduler: port}, 1)
	if err == nil || !strings.Contains(err.Error(), "kube-scheduler port") || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("port %d in use: err = %v, want one naming kube-scheduler", port, err)
	}
}

func TestResolvePortsOutOfRange(t *testing.T) {
	for _, p := range []Ports{{KWOK: -1}, {EtcdPeer: 65536}} {
		if _, err := resolvePorts(p, 1); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%+v: err = %v, want out of range", p, err)
		}
	}
}
