package watch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
)

// LIST bodies are streamed: a list of 50,000 pods is never held in memory.
// Items are skimmed one at a time (or skipped when nobody wants them), and
// only the list's resourceVersion and continue token are kept.

// listResult is what a LIST page yields besides its items.
type listResult struct {
	rv, cont string
	items    int
}

// itemFunc receives one skimmed list item; obj is reused between calls.
type itemFunc func(obj *Object) error

var bufioPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// readProtoList streams a protobuf XxxList (magic + runtime.Unknown{raw}).
func readProtoList(body io.Reader, want Fields, obj *Object, fn itemFunc) (listResult, error) {
	var res listResult
	br := bufioPool.Get().(*bufio.Reader)
	br.Reset(body)
	defer func() { br.Reset(nil); bufioPool.Put(br) }()

	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return res, fmt.Errorf("read list: %w", err)
	}
	if magic != protoMagic {
		return res, errors.New("read list: missing k8s protobuf magic")
	}
	s := pbStream{r: br}
	for {
		field, wire, err := s.key()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		if field == 2 && wire == wireBytes {
			n, err := s.length()
			if err != nil {
				return res, err
			}
			if err := readProtoListBody(&s, n, want, obj, fn, &res); err != nil {
				return res, err
			}
			continue
		}
		if err := s.skip(wire); err != nil {
			return res, err
		}
	}
}

func readProtoListBody(s *pbStream, n int, want Fields, obj *Object, fn itemFunc, res *listResult) error {
	end := s.read + n
	for s.read < end {
		field, wire, err := s.key()
		if err != nil {
			return err
		}
		if wire != wireBytes || (field != 1 && field != 2) {
			if err := s.skip(wire); err != nil {
				return err
			}
			continue
		}
		size, err := s.length()
		if err != nil {
			return err
		}
		if field == 2 && fn == nil {
			res.items++
			if err := s.discard(size); err != nil {
				return err
			}
			continue
		}
		bp := getBuf(size)
		b := (*bp)[:size]
		if err := s.full(b); err != nil {
			putBuf(bp)
			return err
		}
		if field == 1 {
			rv, cont, err := skimProtoListMeta(b)
			res.rv, res.cont = string(rv), string(cont)
			putBuf(bp)
			if err != nil {
				return err
			}
			continue
		}
		res.items++
		obj.Reset()
		err = skimProtoObject(b, want, obj)
		if err == nil {
			err = fn(obj)
		}
		putBuf(bp)
		if err != nil {
			return err
		}
	}
	if s.read != end {
		return errProtoTruncated
	}
	return nil
}

// pbStream reads protobuf wire format from a buffered stream, counting bytes.
type pbStream struct {
	r    *bufio.Reader
	read int
}

func (s *pbStream) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := s.r.ReadByte()
		if err != nil {
			if shift > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		s.read++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("protobuf: varint overflow")
}

func (s *pbStream) key() (int, int, error) {
	k, err := s.varint()
	if err != nil {
		return 0, 0, err
	}
	return int(k >> 3), int(k & 7), nil
}

func (s *pbStream) length() (int, error) {
	n, err := s.varint()
	if err != nil {
		return 0, unexpected(err)
	}
	if n > maxFrameBytes*16 {
		return 0, fmt.Errorf("protobuf: field of %d bytes", n)
	}
	return int(n), nil
}

func (s *pbStream) discard(n int) error {
	m, err := s.r.Discard(n)
	s.read += m
	return unexpected(err)
}

func (s *pbStream) full(b []byte) error {
	m, err := io.ReadFull(s.r, b)
	s.read += m
	return unexpected(err)
}

func (s *pbStream) skip(wire int) error {
	switch wire {
	case wireVarint:
		_, err := s.varint()
		return unexpected(err)
	case wireFixed64:
		return s.discard(8)
	case wireFixed32:
		return s.discard(4)
	case wireBytes:
		n, err := s.length()
		if err != nil {
			return err
		}
		return s.discard(n)
	}
	return fmt.Errorf("protobuf: unsupported wire type %d", wire)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readJSONList streams a JSON list object. Keys may come in any order (the
// API server sorts custom resource lists' keys, so items precede metadata).
func readJSONList(body io.Reader, want Fields, obj *Object, fn itemFunc) (listResult, error) {
	var res listResult
	s := newJSONStream(body)
	defer s.close()
	if err := s.expect('{'); err != nil {
		return res, err
	}
	for {
		c, err := s.peek()
		if err != nil {
			return res, err
		}
		if c == '}' {
			return res, nil
		}
		if c == ',' {
			s.pos++
			continue
		}
		key, err := s.capture()
		if err != nil {
			return res, err
		}
		name := string(key)
		if err := s.expect(':'); err != nil {
			return res, err
		}
		switch name {
		case `"metadata"`:
			v, err := s.capture()
			if err != nil {
				return res, err
			}
			rv, cont, err := skimJSONListMeta(v)
			if err != nil {
				return res, err
			}
			res.rv, res.cont = string(rv), string(cont)
		case `"items"`:
			if err := readJSONItems(s, want, obj, fn, &res); err != nil {
				return res, err
			}
		default:
			if err := s.skip(); err != nil {
				return res, err
			}
		}
	}
}

func readJSONItems(s *jsonStream, want Fields, obj *Object, fn itemFunc, res *listResult) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != '[' {
		return s.skip() // null
	}
	s.pos++
	for {
		c, err := s.peek()
		if err != nil {
			return err
		}
		switch c {
		case ']':
			s.pos++
			return nil
		case ',':
			s.pos++
			continue
		}
		res.items++
		if fn == nil {
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		v, err := s.capture()
		if err != nil {
			return err
		}
		obj.Reset()
		cur := jsonCursor{b: v}
		if err := skimJSONObject(&cur, want, obj, false); err != nil {
			return err
		}
		if want&FieldRaw != 0 {
			obj.Raw = v
		}
		if err := fn(obj); err != nil {
			return err
		}
	}
}

// jsonStream is a minimal buffered reader for streaming JSON: values are
// either skipped (buffer stays small) or captured whole.
type jsonStream struct {
	r        io.Reader
	bp       *[]byte
	buf      []byte
	pos, end int
	err      error
}

func newJSONStream(r io.Reader) *jsonStream {
	bp := getBuf(32 << 10)
	return &jsonStream{r: r, bp: bp, buf: (*bp)[:cap(*bp)]}
}

func (s *jsonStream) close() {
	if s.bp != nil && cap(*s.bp) == cap(s.buf) {
		putBuf(s.bp)
	}
	s.bp = nil
}

// fill reads more data, keeping buf[keep:end]; it returns the shift applied
// to indexes into buf.
func (s *jsonStream) fill(keep int) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	shift := keep
	n := copy(s.buf, s.buf[keep:s.end])
	s.pos -= shift
	s.end = n
	if s.end == len(s.buf) {
		grown := make([]byte, 2*len(s.buf))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	m, err := s.r.Read(s.buf[s.end:])
	s.end += m
	if err != nil {
		s.err = err
		if m > 0 {
			return shift, nil
		}
		return shift, unexpected(err)
	}
	return shift, nil
}

func (s *jsonStream) peek() (byte, error) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, nil
			}
		}
		if _, err := s.fill(s.pos); err != nil {
			return 0, err
		}
	}
}

func (s *jsonStream) expect(ch byte) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != ch {
		return fmt.Errorf("%w: want %q in list", errJSONSyntax, ch)
	}
	s.pos++
	return nil
}

// capture returns the next value whole; it is valid until the next call.
func (s *jsonStream) capture() ([]byte, error) {
	if _, err := s.peek(); err != nil {
		return nil, err
	}
	start := s.pos
	var v valueScanner
	scanned := start
	for {
		n, done := v.scan(s.buf[scanned:s.end])
		scanned += n
		if done {
			s.pos = scanned
			return s.buf[start:scanned], nil
		}
		shift, err := s.fill(start)
		if err != nil {
			if v.scalar && errors.Is(err, io.ErrUnexpectedEOF) {
				s.pos = scanned - shift
				return s.buf[0:s.pos], nil
			}
			return nil, err
		}
		scanned -= shift
		start = 0
	}
}

// skip consumes the next value without keeping it.
func (s *jsonStream) skip() error {
	if _, err := s.peek(); err != nil {
		return err
	}
	var v valueScanner
	for {
		n, done := v.scan(s.buf[s.pos:s.end])
		s.pos += n
		if done {
			return nil
		}
		if _, err := s.fill(s.pos); err != nil {
			return err
		}
	}
}
