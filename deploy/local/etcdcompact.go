package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// etcdCompactTimeout bounds compaction plus defragmentation; defragmenting
// a 1 GB backend rewrites it and takes seconds on a busy disk.
const etcdCompactTimeout = 5 * time.Minute

// CompactEtcd drops etcd's history up to the current revision and
// defragments the backend, so that a copy of the data holds the live keys
// only. A ramp writes each pod several times (create, bind, status) and
// kube-apiserver compacts only every 5 minutes, so without this a saved
// setup carries every intermediate version, and a restore copies them.
// It uses etcd's JSON gateway on the client port (plain HTTP on loopback).
// It returns the backend's size before and after.
func (c *Cluster) CompactEtcd(ctx context.Context) (before, after int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, etcdCompactTimeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	base := url("http", c.ports.Etcd, "")

	if before, err = etcdDBSize(ctx, client, base); err != nil {
		return 0, 0, err
	}
	// A range over a key that need not exist returns the current revision
	// in its header.
	var rangeResp struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	if err := etcdPost(ctx, client, base+"/v3/kv/range", map[string]any{"key": "AA=="}, &rangeResp); err != nil {
		return before, 0, fmt.Errorf("reading etcd revision: %w", err)
	}
	rev, err := strconv.ParseInt(rangeResp.Header.Revision, 10, 64)
	if err != nil {
		return before, 0, fmt.Errorf("etcd revision %q: %w", rangeResp.Header.Revision, err)
	}
	// physical: return only once the compaction is applied to the backend,
	// so the defragmentation below frees its pages.
	if err := etcdPost(ctx, client, base+"/v3/kv/compaction", map[string]any{"revision": strconv.FormatInt(rev, 10), "physical": true}, nil); err != nil {
		return before, 0, fmt.Errorf("compacting etcd at revision %d: %w", rev, err)
	}
	if err := etcdPost(ctx, client, base+"/v3/maintenance/defragment", map[string]any{}, nil); err != nil {
		return before, 0, fmt.Errorf("defragmenting etcd: %w", err)
	}
	if after, err = etcdDBSize(ctx, client, base); err != nil {
		return before, 0, err
	}
	c.logger.Info("etcd compacted and defragmented", zap.Int64("revision", rev), zap.Int64("dbBytesBefore", before), zap.Int64("dbBytesAfter", after))
	return before, after, nil
}

// etcdDBSize is the size of etcd's backend file.
func etcdDBSize(ctx context.Context, client *http.Client, base string) (int64, error) {
	var status struct {
		DBSize string `json:"dbSize"`
	}
	if err := etcdPost(ctx, client, base+"/v3/maintenance/status", map[string]any{}, &status); err != nil {
		return 0, fmt.Errorf("reading etcd status: %w", err)
	}
	n, err := strconv.ParseInt(status.DBSize, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd dbSize %q: %w", status.DBSize, err)
	}
	return n, nil
}

func etcdPost(ctx context.Context, client *http.Client, u string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", u, resp.Status, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding %s response: %w", u, err)
	}
	return nil
}
