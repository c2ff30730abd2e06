package local

import (
	"reflect"
	"strings"
	"testing"
)

func TestProcessOrder(t *testing.T) {
	if got := processOrder(1); !reflect.DeepEqual(got, startOrder) {
		t.Errorf("one API server: %v, want %v", got, startOrder)
	}
	want := []string{Etcd, APIServer, "kube-apiserver-2", "kube-apiserver-3", LoadBalancer, ControllerManager, Scheduler, KWOK}
	if got := processOrder(3); !reflect.DeepEqual(got, want) {
		t.Errorf("three API servers: %v, want %v", got, want)
	}
	for name, want := range map[string]string{"kube-apiserver-2": APIServer, APIServer: APIServer, LoadBalancer: LoadBalancer, "kube-scheduler": Scheduler} {
		if got := baseName(name); got != want {
			t.Errorf("baseName(%s) = %s, want %s", name, got, want)
		}
	}
}

func TestAuditLogPathOf(t *testing.T) {
	for name, want := range map[string]string{APIServer: "/l/audit.log", "kube-apiserver-2": "/l/audit-2.log"} {
		if got := AuditLogPathOf("/l/audit.log", name); got != want {
			t.Errorf("AuditLogPathOf(%s) = %s, want %s", name, got, want)
		}
	}
	if got := AuditLogPathOf("", "kube-apiserver-2"); got != "" {
		t.Errorf("no audit log: %q", got)
	}
}

func TestResolvePortsForSeveralAPIServers(t *testing.T) {
	p, err := resolvePorts(Ports{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ExtraAPIServers) != 2 || p.ExtraAPIServers[0] == 0 || p.ExtraAPIServers[1] == 0 || p.LoadBalancer == 0 {
		t.Fatalf("ports = %+v, want two more API servers and a load balancer", p)
	}
	seen := map[int]bool{}
	for _, port := range append([]int{p.Etcd, p.EtcdPeer, p.APIServer, p.ControllerManager, p.Scheduler, p.KWOK, p.LoadBalancer}, p.ExtraAPIServers...) {
		if seen[port] {
			t.Fatalf("port %d handed out twice: %+v", port, p)
		}
		seen[port] = true
	}
	one, err := resolvePorts(Ports{LoadBalancer: 5, ExtraAPIServers: []int{6}}, 1)
	if err != nil || one.LoadBalancer != 0 || len(one.ExtraAPIServers) != 0 {
		t.Errorf("one API server keeps no load balancer or extra ports: %+v, %v", one, err)
	}
}

func TestHAProxyConfig(t *testing.T) {
	cfg := haproxyConfig(7000, []int{7001, 7002}, "/c/haproxy.sock")
	for _, want := range []string{
		"bind 127.0.0.1:7000",
		"server kube-apiserver 127.0.0.1:7001",
		"server kube-apiserver-2 127.0.0.1:7002",
		"option httpchk GET /readyz",
		"stats socket /c/haproxy.sock",
		"mode tcp",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}

func TestStatusFromCSV(t *testing.T) {
	// As HAProxy 2.6 answers "show stat" (columns cut after status).
	const stat = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight
kube-apiserver,FRONTEND,,,3,5,8000,40,1,2,0,0,0,,,,,OPEN,
kube-apiservers,kube-apiserver,0,0,1,2,,20,1,2,,0,,0,0,0,0,UP,1
kube-apiservers,kube-apiserver-2,0,0,0,1,,20,1,2,,0,,0,0,0,0,DOWN 1/1,1
kube-apiservers,BACKEND,0,0,1,3,800,40,1,2,0,0,,0,0,0,0,UP,2
`
	for server, want := range map[string]string{"kube-apiserver": "UP", "kube-apiserver-2": "DOWN 1/1"} {
		got, err := statusFromCSV(strings.NewReader(stat), server)
		if err != nil || got != want {
			t.Errorf("status of %s = %q, %v; want %q", server, got, err, want)
		}
	}
	if _, err := statusFromCSV(strings.NewReader(stat), "kube-apiserver-3"); err == nil || !strings.Contains(err.Error(), "no server kube-apiserver-3") {
		t.Errorf("missing server: %v", err)
	}
	if _, err := statusFromCSV(strings.NewReader("# a,b\n"), "x"); err == nil || !strings.Contains(err.Error(), "lacks pxname") {
		t.Errorf("bad header: %v", err)
	}
}

func TestRestartsOnExit(t *testing.T) {
	for _, c := range []struct {
		opts Options
		name string
		want bool
	}{
		{Options{}, ControllerManager, false},
		{Options{LeaderElection: true}, ControllerManager, true},
		{Options{LeaderElection: true}, Scheduler, true},
		{Options{LeaderElection: true}, KWOK, false},
		{Options{RestartAPIServer: true}, "kube-apiserver-2", true},
		{Options{}, APIServer, false},
	} {
		if got := (&Cluster{opts: c.opts}).restartsOnExit(c.name); got != c.want {
			t.Errorf("restartsOnExit(%s) with %+v = %v, want %v", c.name, c.opts, got, c.want)
		}
	}
}
