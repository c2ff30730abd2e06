// Package auditmix reads a kube-apiserver audit log (JSON lines, as
// deploy/local writes with AuditOptions) and measures a client's request
// mix: requests per (verb, resource) and the set of watched resources with
// their selectors, as the API server saw them. It is how the emulated
// components are checked against the real ones.
package auditmix

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"
)

// Request is one API request from the audit log.
type Request struct {
	ID        string
	Received  time.Time
	User      string
	UserAgent string
	// Verb is the audit verb (get, list, watch, create, update, patch,
	// delete...), with watch split: "watchlist" is a WATCH that streams
	// the initial state (sendInitialEvents=true) in place of a LIST.
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	Code        int
	// LabelSelector and FieldSelector are the request's query parameters.
	LabelSelector string
	FieldSelector string
}

// event is the part of an audit.k8s.io/v1 Event this package reads.
type event struct {
	AuditID                  string    `json:"auditID"`
	Stage                    string    `json:"stage"`
	RequestURI               string    `json:"requestURI"`
	Verb                     string    `json:"verb"`
	RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
	UserAgent                string    `json:"userAgent"`
	User                     struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// ReadFile reads the audit log at path.
func ReadFile(path string) ([]Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close()
	reqs, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	return reqs, nil
}

// Read parses audit events, one JSON object a line, into requests in log
// order. A request logged at several stages (a WATCH when its response
// starts and again when it ends) is returned once; requests without an
// object (/healthz, /metrics, discovery) are skipped. The user is the
// impersonated one when the request impersonates.
func Read(r io.Reader) ([]Request, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	seen := map[string]int{}
	var out []Request
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if ev.ObjectRef == nil || ev.ObjectRef.Resource == "" {
			continue
		}
		req := toRequest(ev)
		if i, ok := seen[ev.AuditID]; ok {
			// The later stage carries the final status code.
			if req.Code != 0 {
				out[i].Code = req.Code
			}
			continue
		}
		seen[ev.AuditID] = len(out)
		out = append(out, req)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return out, nil
}

func toRequest(ev event) Request {
	req := Request{
		ID: ev.AuditID, Received: ev.RequestReceivedTimestamp,
		User: ev.User.Username, UserAgent: ev.UserAgent, Verb: ev.Verb,
		Group: ev.ObjectRef.APIGroup, Resource: ev.ObjectRef.Resource, Subresource: ev.ObjectRef.Subresource,
		Namespace: ev.ObjectRef.Namespace, Name: ev.ObjectRef.Name,
	}
	if ev.ImpersonatedUser != nil && ev.ImpersonatedUser.Username != "" {
		req.User = ev.ImpersonatedUser.Username
	}
	if ev.ResponseStatus != nil {
		req.Code = ev.ResponseStatus.Code
	}
	if u, err := url.ParseRequestURI(ev.RequestURI); err == nil {
		q := u.Query()
		req.LabelSelector, req.FieldSelector = q.Get("labelSelector"), q.Get("fieldSelector")
		if req.Verb == "watch" && q.Get("sendInitialEvents") == "true" {
			req.Verb = "watchlist"
		}
	}
	return req
}

// IsCollection reports a LIST or WATCH: how a client syncs a collection.
func (r Request) IsCollection() bool {
	return r.Verb == "list" || r.Verb == "watch" || r.Verb == "watchlist"
}

// ResourceName is group-qualified like kubectl prints it ("pods",
// "leases.coordination.k8s.io", "pods/status").
func (r Request) ResourceName() string {
	name := r.Resource
	if r.Group != "" {
		name += "." + r.Group
	}
	if r.Subresource != "" {
		name += "/" + r.Subresource
	}
	return name
}
