package local

import (
	"fmt"
	"net"
	"strconv"
)

const loopback = "127.0.0.1"

// resolvePorts fills zero ports with free loopback ports and checks that
// explicit ones are free and distinct. Free ports are found by listening on
// port 0; all listeners stay open until every port is chosen, so no port is
// handed out twice. A process outside churn can still take a port between
// here and the component's own listen; that shows up as a component that
// exits early, whose log names the port.
func resolvePorts(want Ports, apiServers int) (Ports, error) {
	type portField struct {
		name string
		p    *int
	}
	fields := []portField{
		{"etcd client", &want.Etcd},
		{"etcd peer", &want.EtcdPeer},
		{"kube-apiserver", &want.APIServer},
		{"kube-controller-manager", &want.ControllerManager},
		{"kube-scheduler", &want.Scheduler},
		{"kwok", &want.KWOK},
	}
	// Several API servers: one port each beyond the first, and the load
	// balancer's. With one, neither exists.
	extra := make([]int, max(0, apiServers-1))
	copy(extra, want.ExtraAPIServers)
	want.ExtraAPIServers = extra
	for i := range want.ExtraAPIServers {
		fields = append(fields, portField{apiServerName(i + 2), &want.ExtraAPIServers[i]})
	}
	if apiServers > 1 {
		fields = append(fields, portField{LoadBalancer, &want.LoadBalancer})
	} else {
		want.LoadBalancer = 0
	}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	// The input is checked whole before any port is tried, so a mistake in
	// it is reported as such whatever else holds the ports.
	seen := map[int]string{}
	for _, f := range fields {
		if *f.p < 0 || *f.p > 65535 {
			return Ports{}, fmt.Errorf("%s port %d is out of range", f.name, *f.p)
		}
		if *f.p == 0 {
			continue
		}
		if other, dup := seen[*f.p]; dup {
			return Ports{}, fmt.Errorf("port %d given for both %s and %s", *f.p, other, f.name)
		}
		seen[*f.p] = f.name
	}
	for _, f := range fields {
		if *f.p == 0 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(*f.p)))
		if err != nil {
			return Ports{}, fmt.Errorf("%s port %d on %s is not available (in use by another process?): %w", f.name, *f.p, loopback, err)
		}
		listeners = append(listeners, l)
	}
	for _, f := range fields {
		if *f.p != 0 {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
		if err != nil {
			return Ports{}, fmt.Errorf("finding a free loopback port for %s: %w", f.name, err)
		}
		listeners = append(listeners, l)
		*f.p = l.Addr().(*net.TCPAddr).Port
	}
	return want, nil
}
