package target

import (
	"errors"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for server, want := range map[string]bool{
		"https://127.0.0.1:6443":       true,
		"https://127.5.0.1":            true,
		"https://[::1]:443":            true,
		"https://localhost:6443":       true,
		"127.0.0.1:8080":               true,
		"https://10.0.0.1:6443":        false,
		"https://api.example.com:6443": false,
		"https://localhost.evil.com":   false,
	} {
		if got := IsLoopback(server); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", server, got, want)
		}
	}
}

func TestCheckAllowed(t *testing.T) {
	remote := &Target{Kind: KindKubeconfig, Server: "https://10.1.2.3:6443"}
	if err := remote.CheckAllowed(false); !errors.Is(err, ErrRemoteNotAllowed) {
		t.Fatalf("remote without opt-in: got %v, want ErrRemoteNotAllowed", err)
	}
	if err := remote.CheckAllowed(true); err != nil {
		t.Fatalf("remote with opt-in: %v", err)
	}
	local := &Target{Kind: KindKubeconfig, Server: "https://127.0.0.1:1234"}
	if err := local.CheckAllowed(false); err != nil {
		t.Fatalf("loopback kubeconfig: %v", err)
	}
}
