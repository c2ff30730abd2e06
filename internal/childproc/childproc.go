// Package childproc runs the real programs churn starts in place of
// emulated components (istiod, cilium-operator, cilium-agent): each in its
// own process group, killed if churn dies, logging to a file, stopped with
// SIGTERM then SIGKILL. It also writes the kubeconfig such a program reads
// and picks free loopback ports for its listeners.
package childproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Loopback is the only address the children listen on.
const Loopback = "127.0.0.1"

// Process is one started child.
type Process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}

	mu      sync.Mutex
	exitErr error
}

// Start starts cmd with its output appended to logPath (a header line
// names the command). The child gets its own process group, so a
// terminal's Ctrl-C reaches churn only and churn stops it in order, and
// Pdeathsig, so it dies with churn. Extra clone flags (a mount namespace,
// say) go in cloneFlags.
func Start(name string, cmd *exec.Cmd, logPath string, cloneFlags uintptr) (*Process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:      true,
		Pdeathsig:    syscall.SIGKILL,
		Unshareflags: cloneFlags,
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	fmt.Fprintf(logFile, "=== churn: starting %s at %s: %s %s\n", name, time.Now().Format(time.RFC3339), cmd.Path, strings.Join(cmd.Args[1:], " "))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p := &Process{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	if err := p.spawn(logFile); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	return p, nil
}

// spawn starts the command from a goroutine locked to its OS thread for
// the child's whole life: Linux sends Pdeathsig when the forking *thread*
// exits, and the Go runtime may retire an unlocked thread at any time.
func (p *Process) spawn(logFile *os.File) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread is retired once the child has exited.
		if err := p.cmd.Start(); err != nil {
			logFile.Close()
			started <- err
			close(p.exited)
			return
		}
		started <- nil
		err := p.cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return <-started
}

// PID is the child's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath is where its output goes.
func (p *Process) LogPath() string { return p.logPath }

// Exited is closed once the child has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitError is how the child ended ("exit status 0" when it exited
// cleanly); nil while it runs.
func (p *Process) ExitError() error {
	select {
	case <-p.exited:
	default:
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitErr == nil {
		return errors.New("exit status 0")
	}
	return p.exitErr
}

// Stop sends SIGTERM to the child's process group, SIGKILL after grace
// (or when ctx ends first), and waits for the exit. It reports whether
// SIGKILL was needed. Stopping an exited child is a no-op.
func (p *Process) Stop(ctx context.Context, grace time.Duration) (killed bool, err error) {
	select {
	case <-p.exited:
		return false, nil
	default:
	}
	pgid := p.cmd.Process.Pid
	// The group may already be gone between the check and the signal.
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return false, fmt.Errorf("signalling %s: %w", p.name, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return false, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return true, fmt.Errorf("killing %s: %w", p.name, err)
	}
	<-p.exited
	return true, nil
}

// WriteKubeconfig renders cfg (server, TLS, credentials, impersonation) as
// a kubeconfig file readable by the owner only.
func WriteKubeconfig(path string, cfg *rest.Config) error {
	if cfg == nil {
		return errors.New("no REST config")
	}
	host, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return fmt.Errorf("server URL: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["churn"] = &clientcmdapi.Cluster{
		Server:                   host.String(),
		CertificateAuthority:     cfg.CAFile,
		CertificateAuthorityData: cfg.CAData,
		InsecureSkipTLSVerify:    cfg.Insecure,
		TLSServerName:            cfg.ServerName,
	}
	kc.AuthInfos["churn"] = &clientcmdapi.AuthInfo{
		ClientCertificate:     cfg.CertFile,
		ClientCertificateData: cfg.CertData,
		ClientKey:             cfg.KeyFile,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
		Username:              cfg.Username,
		Password:              cfg.Password,
		Impersonate:           cfg.Impersonate.UserName,
		ImpersonateUID:        cfg.Impersonate.UID,
		ImpersonateGroups:     cfg.Impersonate.Groups,
		ImpersonateUserExtra:  cfg.Impersonate.Extra,
		Exec:                  cfg.ExecProvider,
		AuthProvider:          cfg.AuthProvider,
	}
	kc.Contexts["churn"] = &clientcmdapi.Context{Cluster: "churn", AuthInfo: "churn"}
	kc.CurrentContext = "churn"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

// FreePorts returns n distinct free loopback ports: all listeners stay
// open until every port is picked. Another process can still take one
// before the child listens; the child then exits and its log names the
// port.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(Loopback, "0"))
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// PrivateKubeconfig writes cfg as a kubeconfig in a new temporary
// directory only the owner can read (it holds credentials); the caller
// removes dir once the child has stopped.
func PrivateKubeconfig(prefix string, cfg *rest.Config) (dir, path string, err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", "", fmt.Errorf("creating kubeconfig directory: %w", err)
	}
	path = filepath.Join(dir, "kubeconfig")
	if err := WriteKubeconfig(path, cfg); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, path, nil
}

// WaitReady polls ready every interval until it reports true, the child
// exits, or timeout (or ctx) ends; the errors name the child and its log.
func (p *Process) WaitReady(ctx context.Context, timeout, interval time.Duration, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		probe, cancelProbe := context.WithTimeout(ctx, 5*time.Second)
		ok := ready(probe)
		cancelProbe()
		if ok {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); see %s", p.name, p.ExitError(), p.logPath)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (%w); see %s", p.name, timeout, ctx.Err(), p.logPath)
		case <-tick.C:
		}
	}
}

// HTTPOK is a readiness probe: GET url answers 200.
func HTTPOK(url string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}
