package watch

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// describe renders what a handler sees of one event, so that events read
// along different paths can be compared after their buffers are reused.
func describe(typ EventType, o *Object) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %q %q %q %q c=%d d=%t", typ, o.Name, o.Namespace, o.UID, o.ResourceVersion, o.CreationUnix, o.Deleting)
	for _, kv := range o.Labels {
		fmt.Fprintf(&b, " l:%q=%q", kv.Key, kv.Value)
	}
	for _, kv := range o.Annotations {
		fmt.Fprintf(&b, " a:%q=%q", kv.Key, kv.Value)
	}
	fmt.Fprintf(&b, " pod=%q,%q,%q,%t ep=%d,%q raw=%q st=%d,%q,%q", o.NodeName, o.Phase, o.PodIP, o.Ready, o.IdentityID, o.IPv4, o.Raw, o.Code, o.Reason, o.Message)
	return b.String()
}

// streamRun is what one read of a watch stream produced.
type streamRun struct {
	events []string
	frames int
	err    error
}

func (a streamRun) diff(b streamRun) string {
	if (a.err == nil) != (b.err == nil) || a.frames != b.frames || len(a.events) != len(b.events) {
		return fmt.Sprintf("%d frames, %d events, err %v; against %d frames, %d events, err %v", a.frames, len(a.events), a.err, b.frames, len(b.events), b.err)
	}
	for i := range a.events {
		if a.events[i] != b.events[i] {
			return fmt.Sprintf("event %d: %s; against %s", i, a.events[i], b.events[i])
		}
	}
	return ""
}

func fuzzReflector(want Fields, run *streamRun) *Reflector {
	c := NewClient(ClientConfig{})
	return NewReflector(c, WatchSpec{Version: "v1", Resource: "pods", Fields: want}, func(ev *Event) {
		run.events = append(run.events, describe(ev.Type, ev.Object))
	}, nil)
}

// chunkReader returns at most n bytes a read, as a network body does.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// FuzzWatchStream reads one watch stream three ways: through net/http's
// body (Reflector.consume, in chunks), through the HTTP/2 mux's DATA frame
// handler (muxWatch, in other chunks), and by a plain split into frames
// (length prefixes or lines) handed to handleFrame. All three must yield
// the same events and agree on whether the stream failed.
func FuzzWatchStream(f *testing.F) {
	var proto, js bytes.Buffer
	for i, typ := range []string{"ADDED", "MODIFIED", "DELETED"} {
		p := testPod(fmt.Sprintf("web-%d", i))
		if err := writeProtoEvent(&proto, typ, p); err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(p)
		fmt.Fprintf(&js, "{\"type\":%q,\"object\":%s}\n", typ, b)
	}
	f.Add(proto.Bytes(), true, uint16(0), uint16(FieldLabels|FieldPod))
	f.Add(proto.Bytes(), true, uint16(3), uint16(FieldAnnotations))
	f.Add(proto.Bytes()[:proto.Len()-5], true, uint16(0), uint16(0)) // a truncated last frame
	f.Add(js.Bytes(), false, uint16(5), uint16(FieldLabels|FieldRaw))
	f.Add(js.Bytes()[:js.Len()-5], false, uint16(0), uint16(0))
	f.Add([]byte("\n\r\n  \n"+`{"type":"ADDED","object":{}}`+"\n"), false, uint16(1), uint16(0))
	f.Add([]byte{}, true, uint16(0), uint16(0))
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff}, true, uint16(0), uint16(0)) // a 2 GiB frame announced
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, true, uint16(1), uint16(0)) // empty frames
	f.Fuzz(func(t *testing.T, data []byte, proto bool, chunk, want uint16) {
		fields := Fields(want) & allFields
		ctype := ContentTypeJSON
		if proto {
			ctype = ContentTypeProtobuf
		}

		var viaHTTP streamRun
		r := fuzzReflector(fields, &viaHTTP)
		body := io.NopCloser(&chunkReader{b: data, n: int(chunk)%4096 + 1})
		viaHTTP.frames, viaHTTP.err = r.consume(&http.Response{Header: http.Header{"Content-Type": {ctype}}, Body: body})

		var viaMux streamRun
		w := &muxWatch{r: fuzzReflector(fields, &viaMux), done: make(chan error, 1)}
		s := &Stream{c: &muxConn{dead: true, streams: map[uint32]*Stream{}}, h: w}
		w.OnHeaders(s, http.StatusOK, http.Header{"Content-Type": {ctype}})
		for p, n := data, int(chunk)%7919+1; len(p) > 0; {
			m := min(n, len(p))
			w.OnData(s, p[:m])
			p = p[m:]
		}
		if !s.ended {
			w.OnEnd(s, nil)
		}
		viaMux.frames, viaMux.err = w.events, w.err

		var plain streamRun
		rp := fuzzReflector(fields, &plain)
		for _, fr := range splitFrames(data, proto) {
			if fr == nil {
				plain.err = errors.New("frame too large")
				break
			}
			plain.frames++
			if plain.err = rp.handleFrame(fr, proto); plain.err != nil {
				break
			}
		}

		if d := viaHTTP.diff(plain); d != "" {
			t.Fatalf("net/http body read differs from a plain split: %s", d)
		}
		if d := viaMux.diff(plain); d != "" {
			t.Fatalf("mux read differs from a plain split: %s", d)
		}
	})
}

// splitFrames is the reference framing: 4-byte big-endian length prefixes
// (protobuf) or lines (JSON); an incomplete last frame is dropped, as a
// stream cut short ends quietly. A nil frame stands for one too large.
func splitFrames(data []byte, proto bool) [][]byte {
	var out [][]byte
	if proto {
		for len(data) >= 4 {
			n := binary.BigEndian.Uint32(data)
			if n > maxFrameBytes {
				return append(out, nil)
			}
			if int(n) > len(data)-4 {
				break
			}
			out = append(out, data[4:4+n])
			data = data[4+n:]
		}
		return out
	}
	lines := bytes.Split(data, []byte("\n"))
	for _, l := range lines[:len(lines)-1] {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// listRun is what one read of a list body produced.
type listRun struct {
	items []string
	res   listResult
	err   error
}

func readList(body io.Reader, proto bool, want Fields, keep bool) listRun {
	var run listRun
	var obj Object
	var fn itemFunc
	if keep {
		fn = func(o *Object) error {
			run.items = append(run.items, describe(Added, o))
			return nil
		}
	}
	if proto {
		run.res, run.err = readProtoList(body, want, &obj, fn)
	} else {
		run.res, run.err = readJSONList(body, want, &obj, fn)
	}
	return run
}

// checkListReads reads body whole, a byte at a time and with items
// skipped: every read must agree (a list's bytes arrive in any chunking),
// and the skipping read must count the items the skimming read handed on.
func checkListReads(t *testing.T, body []byte, proto bool, want Fields) listRun {
	whole := readList(bytes.NewReader(body), proto, want, true)
	bytewise := readList(iotest.OneByteReader(bytes.NewReader(body)), proto, want, true)
	if (whole.err == nil) != (bytewise.err == nil) || whole.res != bytewise.res || strings.Join(whole.items, "\n") != strings.Join(bytewise.items, "\n") {
		t.Fatalf("read whole: %+v %d items err %v; a byte at a time: %+v %d items err %v",
			whole.res, len(whole.items), whole.err, bytewise.res, len(bytewise.items), bytewise.err)
	}
	if whole.err == nil && whole.res.items != len(whole.items) {
		t.Fatalf("counted %d items, handed on %d", whole.res.items, len(whole.items))
	}
	skipped := readList(bytes.NewReader(body), proto, want, false)
	if whole.err == nil && skipped.err == nil && skipped.res != whole.res {
		t.Fatalf("skipping items: %+v; skimming them: %+v", skipped.res, whole.res)
	}
	return whole
}

func FuzzReadProtoList(f *testing.F) {
	list := &corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: "77", Continue: "tok"}, Items: []corev1.Pod{*testPod("a"), *testPod("b")}}
	b, err := wrapProto(list)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, uint16(FieldLabels|FieldPod))
	f.Add(b[:len(b)-9], uint16(0))
	f.Add([]byte("k8s\x00"), uint16(0))
	f.Add([]byte("k8s\x00\x12\xff\xff\xff\xff\x07"), uint16(0)) // a 2 GiB list announced
	f.Add([]byte("k8s\x00\x12\x06\x12\xff\xff\xff\x3f\x00"), uint16(FieldPod))
	f.Add([]byte("k8s"), uint16(0))
	f.Fuzz(func(t *testing.T, body []byte, want uint16) {
		fields := Fields(want) & allFields
		run := checkListReads(t, body, true, fields)
		if err := compareProtoList(body, fields, run); err != nil {
			t.Fatal(err)
		}
	})
}

// compareProtoList checks a list read against the generated decoders on
// canonical input.
func compareProtoList(body []byte, want Fields, run listRun) error {
	var u runtime.Unknown
	if len(body) < 4 || [4]byte(body[:4]) != protoMagic || u.Unmarshal(body[4:]) != nil || !canonical(&u, body[4:]) {
		return nil
	}
	var meta metav1.ListMeta
	var items []string
	switch u.Kind {
	case "PodList":
		var l corev1.PodList
		if l.Unmarshal(u.Raw) != nil || !canonical(&l, u.Raw) {
			return nil
		}
		meta = l.ListMeta
		for i := range l.Items {
			items = append(items, l.Items[i].Name)
		}
	case "ConfigMapList":
		var l corev1.ConfigMapList
		if l.Unmarshal(u.Raw) != nil || !canonical(&l, u.Raw) {
			return nil
		}
		meta = l.ListMeta
		for i := range l.Items {
			items = append(items, l.Items[i].Name)
		}
	default:
		return nil
	}
	if run.err != nil {
		return fmt.Errorf("read failed on a list the reference decodes: %v", run.err)
	}
	if run.res.rv != meta.ResourceVersion || run.res.cont != meta.Continue || len(run.items) != len(items) {
		return fmt.Errorf("list rv %q continue %q %d items, reference %q %q %d", run.res.rv, run.res.cont, len(run.items), meta.ResourceVersion, meta.Continue, len(items))
	}
	for i, name := range items {
		if !strings.HasPrefix(run.items[i], fmt.Sprintf("%v %q ", Added, name)) {
			return fmt.Errorf("item %d: %s, reference name %q", i, run.items[i], name)
		}
	}
	return nil
}

func FuzzReadJSONList(f *testing.F) {
	f.Add([]byte(`{"kind":"PodList","metadata":{"resourceVersion":"77","continue":"tok"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b","labels":{"x":"y"}}}]}`), uint16(FieldLabels))
	f.Add([]byte(`{"items":[{"metadata":{"name":"a"}}],"metadata":{"resourceVersion":"9"},"kind":"ThingList"}`), uint16(FieldRaw))
	f.Add([]byte(`{"metadata":{},"items":null}`), uint16(0))
	f.Add([]byte(`{"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"a\"\\"}}, 12, "s", true`), uint16(0))
	f.Add([]byte(`{"n":-12.5e3,"items":[]}`), uint16(0))
	f.Add([]byte(`{`), uint16(0))
	f.Fuzz(func(t *testing.T, body []byte, want uint16) {
		fields := Fields(want) & allFields
		run := checkListReads(t, body, false, fields)
		if err := compareJSONList(body, fields, run); err != nil {
			t.Fatal(err)
		}
	})
}

// compareJSONList checks a list read against encoding/json on valid JSON
// without duplicate keys whose items are objects with well-typed metadata.
func compareJSONList(body []byte, want Fields, run listRun) error {
	if !json.Valid(body) || irregularKeys(body) {
		return nil
	}
	var l map[string]json.RawMessage
	if json.Unmarshal(body, &l) != nil || l == nil {
		return nil
	}
	var meta struct {
		RV   *string `json:"resourceVersion"`
		Cont *string `json:"continue"`
	}
	if m, has := l["metadata"]; has {
		var mm map[string]json.RawMessage
		if json.Unmarshal(m, &mm) != nil || mm == nil {
			return nil
		}
		for _, k := range []string{"resourceVersion", "continue"} {
			if v, has := mm[k]; has && v[0] != '"' {
				return nil
			}
		}
		if json.Unmarshal(m, &meta) != nil {
			return nil
		}
	}
	var items []json.RawMessage
	if v, has := l["items"]; has && json.Unmarshal(v, &items) != nil {
		return nil
	}
	var refs []refObject
	for _, it := range items {
		var o map[string]json.RawMessage
		if json.Unmarshal(it, &o) != nil || o == nil {
			return nil
		}
		ref, ok := refJSONObject(o, want, false)
		if !ok {
			return nil
		}
		refs = append(refs, ref)
	}
	if run.err != nil {
		return fmt.Errorf("read failed on a list encoding/json decodes: %v", run.err)
	}
	rv, cont := "", ""
	if meta.RV != nil {
		rv = *meta.RV
	}
	if meta.Cont != nil {
		cont = *meta.Cont
	}
	grv, ok1 := jsonString([]byte(run.res.rv))
	gcont, ok2 := jsonString([]byte(run.res.cont))
	if !ok1 || !ok2 || grv != rv || gcont != cont || len(run.items) != len(refs) {
		return fmt.Errorf("list rv %q continue %q %d items, reference %q %q %d", run.res.rv, run.res.cont, len(run.items), rv, cont, len(refs))
	}
	for i, ref := range refs {
		name, _ := json.Marshal(ref.name)
		if !strings.HasPrefix(run.items[i], fmt.Sprintf("%v %q ", Added, name[1:len(name)-1])) {
			return fmt.Errorf("item %d: %s, reference name %q", i, run.items[i], ref.name)
		}
	}
	return nil
}

// FuzzGunzipBody inflates a gzip response body with the klauspost reader
// churn uses and compares it with compress/gzip: a failure exactly when
// the standard library fails, and the same bytes (before a failure, one
// output a prefix of the other).
func FuzzGunzipBody(f *testing.F) {
	var b bytes.Buffer
	zw := stdgzip.NewWriter(&b)
	_, _ = zw.Write([]byte(`{"kind":"ConfigMapList","items":[]}`))
	_ = zw.Close()
	f.Add(b.Bytes())
	f.Add(append(append([]byte(nil), b.Bytes()...), b.Bytes()...)) // two members
	f.Add(b.Bytes()[:b.Len()-4])                                   // no size trailer
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		const limit = 1 << 20 // a bomb inflates only this far
		resp := &http.Response{Header: http.Header{"Content-Encoding": {"gzip"}}, Body: io.NopCloser(bytes.NewReader(body))}
		gerr := gunzipBody(resp)
		var got []byte
		var rerr error
		if gerr == nil {
			got, rerr = io.ReadAll(io.LimitReader(resp.Body, limit))
			if err := resp.Body.Close(); err != nil {
				t.Fatal(err)
			}
			if resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != -1 || !resp.Uncompressed {
				t.Fatalf("inflated response still looks encoded: %v %d", resp.Header, resp.ContentLength)
			}
		}
		if len(body) >= 4 && body[3]&0xe0 != 0 {
			// Reserved flag bits: RFC 1952 has a decompressor refuse the
			// member; compress/gzip does not check them.
			if gerr == nil && rerr == nil {
				t.Fatalf("reserved gzip flags %#x accepted", body[3])
			}
			return
		}
		zr, err := stdgzip.NewReader(bytes.NewReader(body))
		if (err == nil) != (gerr == nil) {
			t.Fatalf("header: gunzipBody %v, compress/gzip %v", gerr, err)
		}
		if err != nil {
			return
		}
		want, werr := io.ReadAll(io.LimitReader(zr, limit))
		if (rerr == nil) != (werr == nil) {
			t.Fatalf("body: gunzipBody %v, compress/gzip %v", rerr, werr)
		}
		// On a corrupt stream the readers may hand out different amounts
		// of what precedes the damage before failing; what they hand out
		// must agree.
		if rerr == nil && !bytes.Equal(got, want) || !bytes.HasPrefix(got, want) && !bytes.HasPrefix(want, got) {
			t.Fatalf("inflated %d bytes, compress/gzip %d (errors %v, %v)", len(got), len(want), rerr, werr)
		}
	})
}

// FuzzReadStatusError decodes a non-2xx body: a metav1.Status's reason
// and message when the reference decoder reads one, else the body's
// start as the message.
func FuzzReadStatusError(f *testing.F) {
	st := &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure", Code: 404, Reason: "NotFound", Message: `pods "x" not found`}
	pb, err := wrapProto(st)
	if err != nil {
		f.Fatal(err)
	}
	js, _ := json.Marshal(st)
	f.Add(pb, true)
	f.Add(js, false)
	f.Add([]byte("upstream connect error\n"), false)
	f.Add([]byte{}, true)
	f.Add(bytes.Repeat([]byte("x"), 600), false)
	f.Fuzz(func(t *testing.T, body []byte, proto bool) {
		ctype := ContentTypeJSON
		if proto {
			ctype = ContentTypeProtobuf
		}
		resp := &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Content-Type": {ctype}}, Body: io.NopCloser(bytes.NewReader(body))}
		err := readStatusError(&Request{Verb: http.MethodGet, Path: "/api/v1/pods"}, resp)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
			t.Fatalf("got %v, want a StatusError with the response's code", err)
		}
		start := string(bytes.TrimSpace(body[:min(len(body), 512)]))
		reason, message, ok := refStatus(body, proto)
		switch {
		case ok && (se.Reason != reason || (message != "" && se.Message != message)):
			t.Fatalf("reason %q message %q, reference %q %q", se.Reason, se.Message, reason, message)
		case ok && message == "" && se.Message != start:
			t.Fatalf("message %q, want the body's start %q", se.Message, start)
		case se.Message == "" && start != "":
			t.Fatalf("no message, body %q", start)
		}
	})
}

// refStatus decodes a Status body with the reference decoders; strings
// are as skimmed (JSON ones raw).
func refStatus(body []byte, proto bool) (reason, message string, ok bool) {
	if proto {
		var u runtime.Unknown
		var st metav1.Status
		if len(body) < 4 || [4]byte(body[:4]) != protoMagic || u.Unmarshal(body[4:]) != nil || !canonical(&u, body[4:]) ||
			st.Unmarshal(u.Raw) != nil || !canonical(&st, u.Raw) {
			return "", "", false
		}
		return string(st.Reason), st.Message, true
	}
	if !json.Valid(body) || irregularKeys(body) {
		return "", "", false
	}
	var o map[string]json.RawMessage
	if json.Unmarshal(body, &o) != nil || o == nil {
		return "", "", false
	}
	ref, ok := refJSONObject(o, 0, true)
	return ref.reason, ref.message, ok
}
