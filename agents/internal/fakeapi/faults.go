package fakeapi

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Fault answers matching requests with an error status instead of serving
// them.
type Fault struct {
	Verb, Resource    string // empty matches any
	Code              int
	Reason            metav1.StatusReason
	RetryAfterSeconds int
	// Times is how many requests it answers; 0 means forever.
	Times int
}

type fault struct {
	Fault
	used int
}

// Inject adds a fault; faults are checked in order.
func (s *Server) Inject(f Fault) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.faults = append(s.faults, &fault{Fault: f})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.faults = nil
}

// matchFault is called with recMu held.
func (s *Server) matchFault(rt *route) *fault {
	for _, f := range s.faults {
		if f.Times > 0 && f.used >= f.Times {
			continue
		}
		if (f.Verb == "" || f.Verb == rt.verb) && (f.Resource == "" || f.Resource == rt.resource) {
			f.used++
			return f
		}
	}
	return nil
}
