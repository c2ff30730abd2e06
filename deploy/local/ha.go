package local

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LoadBalancer is the process name of HAProxy, which sits in front of the
// API servers when there are several (Options.APIServers > 1).
const LoadBalancer = "haproxy"

// haproxyBinary is found on PATH (Debian's haproxy package).
const haproxyBinary = "haproxy"

// HAShutdownDelay is kube-apiserver's --shutdown-delay-duration behind the
// load balancer: after SIGTERM it keeps serving while /readyz fails, long
// enough for HAProxy (checking every second, down after 2 failures) to
// send new connections elsewhere before the listener closes. A lone API
// server keeps Kubernetes' default of 0: nobody else could take its load.
const HAShutdownDelay = 5 * time.Second

// apiServerName is the process name of the i-th API server (1-based):
// kube-apiserver, kube-apiserver-2, ...
func apiServerName(i int) string {
	if i <= 1 {
		return APIServer
	}
	return APIServer + "-" + strconv.Itoa(i)
}

// extraServer matches kube-apiserver-2 ... and gives the binary's name.
var extraServer = regexp.MustCompile(`^(kube-apiserver)-[0-9]+$`)

// baseName is the binary a process runs: kube-apiserver for
// kube-apiserver-2, the name itself otherwise.
func baseName(name string) string {
	if m := extraServer.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return name
}

// processOrder is the start order of a control plane with n API servers:
// the load balancer comes after every API server and before their clients.
func processOrder(n int) []string {
	order := []string{Etcd}
	for i := 1; i <= max(1, n); i++ {
		order = append(order, apiServerName(i))
	}
	if n > 1 {
		order = append(order, LoadBalancer)
	}
	return append(order, ControllerManager, Scheduler, KWOK)
}

// findHAProxy returns HAProxy's path, or an error saying how to get it.
func findHAProxy() (string, error) {
	p, err := exec.LookPath(haproxyBinary)
	if err != nil {
		return "", fmt.Errorf("several API servers run behind HAProxy, which is not installed: install Debian's haproxy package (`apt-get install haproxy`; make and .ci/run do it) or run one API server")
	}
	return p, nil
}

// haproxyConfig is a TCP (TLS passthrough) load balancer over the API
// servers, as in kubeadm's HA guide: round robin, each server checked on
// /readyz every half second and taken out after two failures, so a server that
// begins shutting down (its /readyz fails first) stops getting new
// connections. Connections already open stay with their server until it
// closes them, as watches do on a real load balancer.
func haproxyConfig(lbPort int, servers []int, statsSocket string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by churn for this cluster; rewritten at every start.
global
  # Two descriptors a connection; 8,000 fits the usual 20,000 open-file
  # limit and every client of a 1,000-node emulation.
  maxconn 8000
  # Read by churn to tell when a server is back in rotation.
  stats socket %s mode 600 level user

defaults
  mode tcp
  timeout connect 5s
  # Watches last up to an hour (--min-request-timeout 1800 s, doubled at
  # most); the load balancer must not be what ends them.
  timeout client 2h
  timeout server 2h

frontend kube-apiserver
  bind %s:%d
  default_backend %s

backend %s
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  # Out of rotation within a second of /readyz failing, well inside the
  # API server's shutdown delay.
  default-server check check-ssl verify none inter 500ms fall 2 rise 1
`, statsSocket, loopback, lbPort, backendName, backendName)
	for i, port := range servers {
		fmt.Fprintf(&b, "  server %s %s:%d\n", apiServerName(i+1), loopback, port)
	}
	return b.String()
}

// apiServerShutdownWait is how long a kube-apiserver takes to exit after
// SIGTERM beyond draining its requests: its shutdown delay plus its watch
// termination grace period, from churn's arguments and the user's.
func (c *Cluster) apiServerShutdownWait() time.Duration {
	var wait time.Duration
	for _, flag := range []string{"--shutdown-delay-duration", "--shutdown-watch-termination-grace-period"} {
		if d, ok := c.APIServerShutdownFlag(flag); ok {
			wait += d
		}
	}
	return wait
}

// APIServerShutdownFlag is the value of one of kube-apiserver's shutdown
// duration flags as the API servers were started with it (the user's
// argument wins over churn's), and whether it was set at all.
func (c *Cluster) APIServerShutdownFlag(flag string) (time.Duration, bool) {
	var val string
	found := false
	for _, arg := range append(haShutdownArgs(c.opts), c.opts.ExtraArgs[APIServer]...) {
		if v, ok := strings.CutPrefix(arg, flag+"="); ok {
			val, found = v, true
		}
	}
	if !found {
		return 0, false
	}
	d, err := time.ParseDuration(val)
	if err != nil {
		return 0, false
	}
	return d, true
}

// APIServerEndpoint is one API server of the local control plane.
type APIServerEndpoint struct {
	Name string
	URL  string
}

// APIServerEndpoints lists every API server's own address, in order; with
// one API server it is APIServerURL.
func (c *Cluster) APIServerEndpoints() []APIServerEndpoint {
	out := []APIServerEndpoint{{Name: APIServer, URL: url("https", c.ports.APIServer, "")}}
	for i, port := range c.ports.ExtraAPIServers {
		out = append(out, APIServerEndpoint{Name: apiServerName(i + 2), URL: url("https", port, "")})
	}
	return out
}

// writeHAProxyConfig writes the load balancer's configuration.
func writeHAProxyConfig(p paths, ports Ports) error {
	servers := append([]int{ports.APIServer}, ports.ExtraAPIServers...)
	if err := os.WriteFile(p.haproxyConfig(), []byte(haproxyConfig(ports.LoadBalancer, servers, p.haproxySocket())), 0o644); err != nil {
		return fmt.Errorf("writing HAProxy configuration: %w", err)
	}
	return nil
}

// backendName is the HAProxy backend of the API servers.
const backendName = "kube-apiservers"

// WaitBalanced waits until the load balancer has the named API server in
// rotation again (its health check passed), so that a rolling upgrade
// never takes a server down while the one before is still out of
// rotation. Without a load balancer it returns at once.
func (c *Cluster) WaitBalanced(ctx context.Context, name string) error {
	if c.ports.LoadBalancer == 0 {
		return nil
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var status string
	var err error
	for {
		status, err = serverStatus(ctx, c.paths.haproxySocket(), name)
		if err == nil && status == "UP" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for HAProxy to put %s back in rotation: %w (status %q, %v)", name, ctx.Err(), status, err)
		case <-tick.C:
		}
	}
}

// serverStatus asks HAProxy's stats socket for one server's status ("UP",
// "DOWN", "UP 1/2" while going down, ...).
func serverStatus(ctx context.Context, socket, server string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return "", fmt.Errorf("HAProxy stats socket: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "show stat\n"); err != nil {
		return "", fmt.Errorf("HAProxy stats socket: %w", err)
	}
	return statusFromCSV(conn, server)
}

// statusFromCSV finds a server of the API servers' backend in HAProxy's
// "show stat" CSV, whose header line starts with "# ".
func statusFromCSV(r io.Reader, server string) (string, error) {
	br := bufio.NewReader(r)
	head, err := br.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("HAProxy stats: reading header: %w", err)
	}
	idx := map[string]int{}
	for i, c := range strings.Split(strings.TrimSpace(strings.TrimPrefix(head, "# ")), ",") {
		idx[c] = i
	}
	px, okP := idx["pxname"]
	sv, okS := idx["svname"]
	st, okT := idx["status"]
	if !okP || !okS || !okT {
		return "", fmt.Errorf("HAProxy stats: header %q lacks pxname, svname or status", strings.TrimSpace(head))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return "", fmt.Errorf("HAProxy stats: no server %s in backend %s", server, backendName)
		}
		if err != nil {
			return "", fmt.Errorf("HAProxy stats: %w", err)
		}
		if len(rec) > max(px, sv, st) && rec[px] == backendName && rec[sv] == server {
			return rec[st], nil
		}
	}
}
