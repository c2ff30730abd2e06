package watch

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The JSON skimmer reads objects as the API server writes them: a watch
// stream is one compact JSON document per line ({"type":..,"object":..}),
// custom resources come with their keys sorted (they are maps on the
// server), built-in kinds in struct order. The skimmer does not depend on
// key order. String values are returned as raw, still-escaped bytes, which
// is exact for names, resource versions, label keys and values.

var errJSONSyntax = errors.New("json: malformed document")

type jsonCursor struct {
	b []byte
	i int
}

func (c *jsonCursor) ws() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it (0 at the end).
func (c *jsonCursor) peek() byte {
	c.ws()
	if c.i >= len(c.b) {
		return 0
	}
	return c.b[c.i]
}

func (c *jsonCursor) expect(ch byte) error {
	if c.peek() != ch {
		return fmt.Errorf("%w: want %q at offset %d", errJSONSyntax, ch, c.i)
	}
	c.i++
	return nil
}

// str reads a string value and returns its raw contents.
func (c *jsonCursor) str() ([]byte, error) {
	if c.peek() != '"' {
		return nil, fmt.Errorf("%w: want string at offset %d", errJSONSyntax, c.i)
	}
	start := c.i
	end := skipJSON(c.b, c.i)
	if end < 0 {
		return nil, errJSONSyntax
	}
	c.i = end
	return c.b[start+1 : end-1], nil
}

// scalar reads a number, true, false or null literal.
func (c *jsonCursor) scalar() ([]byte, error) {
	c.ws()
	start := c.i
	end := skipJSON(c.b, c.i)
	if end < 0 {
		return nil, errJSONSyntax
	}
	c.i = end
	return c.b[start:end], nil
}

func (c *jsonCursor) skip() error {
	end := skipJSON(c.b, c.i)
	if end < 0 {
		return errJSONSyntax
	}
	c.i = end
	return nil
}

// members iterates the members of the object at the cursor, calling fn with
// each key; fn must consume the value (or return skip=true to have it
// skipped). fn returning stop=true ends the walk early, leaving the cursor
// inside the object.
func (c *jsonCursor) members(fn func(key []byte) (skip, stop bool, err error)) error {
	if err := c.expect('{'); err != nil {
		return err
	}
	if c.peek() == '}' {
		c.i++
		return nil
	}
	for {
		key, err := c.str()
		if err != nil {
			return err
		}
		if err := c.expect(':'); err != nil {
			return err
		}
		skip, stop, err := fn(key)
		if err != nil {
			return err
		}
		if stop {
			return nil
		}
		if skip {
			if err := c.skip(); err != nil {
				return err
			}
		}
		switch c.peek() {
		case ',':
			c.i++
		case '}':
			c.i++
			return nil
		default:
			return fmt.Errorf("%w: want ',' or '}' at offset %d", errJSONSyntax, c.i)
		}
	}
}

// skimJSONEvent skims one watch event document.
func skimJSONEvent(doc []byte, want Fields, obj *Object) (EventType, error) {
	c := jsonCursor{b: doc}
	var typ EventType
	seenObject := false
	err := c.members(func(key []byte) (bool, bool, error) {
		switch string(key) {
		case "type":
			v, err := c.str()
			if err != nil {
				return false, false, err
			}
			typ = parseEventType(v)
			return false, seenObject, nil
		case "object":
			seenObject = true
			// The type precedes the object in everything the API server
			// writes; once both are in, the rest of the line is not needed.
			raw := want&FieldRaw != 0
			c.ws()
			start := c.i
			if err := skimJSONObject(&c, want, obj, typ != Error && typ != 0 && !raw); err != nil {
				return false, false, err
			}
			if raw {
				obj.Raw = doc[start:c.i]
			}
			return false, typ != 0, nil
		}
		return true, false, nil
	})
	if err != nil {
		return 0, err
	}
	if typ == 0 {
		return 0, errors.New("json: watch event without a known type")
	}
	if !seenObject {
		return typ, errors.New("json: watch event without an object")
	}
	return typ, nil
}

// skimJSONObject skims the object at the cursor. With early set, the walk
// stops once metadata (and for FieldEndpoint, status) has been read.
func skimJSONObject(c *jsonCursor, want Fields, obj *Object, early bool) error {
	needStatus := want&FieldEndpoint != 0
	seenMeta, seenStatus := false, false
	return c.members(func(key []byte) (bool, bool, error) {
		switch string(key) {
		case "metadata":
			seenMeta = true
			if err := skimJSONMeta(c, want, obj); err != nil {
				return false, false, err
			}
		case "status":
			if !needStatus || c.peek() != '{' {
				return true, false, nil
			}
			seenStatus = true
			if err := skimJSONEndpointStatus(c, obj); err != nil {
				return false, false, err
			}
		case "code":
			v, err := c.scalar()
			if err != nil {
				return false, false, err
			}
			n, _ := strconv.ParseInt(string(v), 10, 32)
			obj.Code = int32(n)
		case "reason":
			if c.peek() != '"' {
				return true, false, nil
			}
			v, err := c.str()
			if err != nil {
				return false, false, err
			}
			obj.Reason = v
		case "message":
			if c.peek() != '"' {
				return true, false, nil
			}
			v, err := c.str()
			if err != nil {
				return false, false, err
			}
			obj.Message = v
		default:
			return true, false, nil
		}
		stop := early && seenMeta && (!needStatus || seenStatus)
		return false, stop, nil
	})
}

func skimJSONMeta(c *jsonCursor, want Fields, obj *Object) error {
	return c.members(func(key []byte) (bool, bool, error) {
		var err error
		switch string(key) {
		case "name":
			obj.Name, err = c.str()
		case "namespace":
			obj.Namespace, err = c.str()
		case "uid":
			obj.UID, err = c.str()
		case "resourceVersion":
			obj.ResourceVersion, err = c.str()
		case "creationTimestamp":
			if c.peek() != '"' {
				return true, false, nil
			}
			var v []byte
			if v, err = c.str(); err == nil {
				obj.CreationUnix = parseRFC3339Seconds(v)
			}
		case "deletionTimestamp":
			obj.Deleting = c.peek() == '"'
			return true, false, nil
		case "labels":
			if want&FieldLabels == 0 {
				return true, false, nil
			}
			obj.Labels, err = jsonStringMap(c, obj.Labels)
		case "annotations":
			if want&FieldAnnotations == 0 {
				return true, false, nil
			}
			obj.Annotations, err = jsonStringMap(c, obj.Annotations)
		default:
			return true, false, nil
		}
		return false, false, err
	})
}

func jsonStringMap(c *jsonCursor, dst []KV) ([]KV, error) {
	if c.peek() == 'n' { // null
		_, err := c.scalar()
		return dst, err
	}
	err := c.members(func(key []byte) (bool, bool, error) {
		if c.peek() != '"' {
			return true, false, nil
		}
		v, err := c.str()
		if err != nil {
			return false, false, err
		}
		dst = append(dst, KV{Key: key, Value: v})
		return false, false, nil
	})
	return dst, err
}

// skimJSONEndpointStatus reads status.identity.id and
// status.networking.addressing[0].ipv4 of a CiliumEndpoint.
func skimJSONEndpointStatus(c *jsonCursor, obj *Object) error {
	return c.members(func(key []byte) (bool, bool, error) {
		switch string(key) {
		case "identity":
			if c.peek() != '{' {
				return true, false, nil
			}
			err := c.members(func(k []byte) (bool, bool, error) {
				if string(k) != "id" {
					return true, false, nil
				}
				v, err := c.scalar()
				if err != nil {
					return false, false, err
				}
				obj.IdentityID, _ = strconv.ParseInt(string(v), 10, 64)
				return false, false, nil
			})
			return false, false, err
		case "networking":
			if c.peek() != '{' {
				return true, false, nil
			}
			err := c.members(func(k []byte) (bool, bool, error) {
				if string(k) != "addressing" || c.peek() != '[' {
					return true, false, nil
				}
				return false, false, firstIPv4(c, obj)
			})
			return false, false, err
		}
		return true, false, nil
	})
}

func firstIPv4(c *jsonCursor, obj *Object) error {
	if err := c.expect('['); err != nil {
		return err
	}
	for first := true; ; first = false {
		switch c.peek() {
		case ']':
			c.i++
			return nil
		case ',':
			c.i++
		}
		if first && c.peek() == '{' {
			err := c.members(func(k []byte) (bool, bool, error) {
				if string(k) != "ipv4" || c.peek() != '"' {
					return true, false, nil
				}
				v, err := c.str()
				obj.IPv4 = v
				return false, false, err
			})
			if err != nil {
				return err
			}
			continue
		}
		if err := c.skip(); err != nil {
			return err
		}
	}
}

// skimJSONListMeta reads resourceVersion and continue of a list's metadata.
func skimJSONListMeta(doc []byte) (rv, cont []byte, err error) {
	c := jsonCursor{b: doc}
	err = c.members(func(key []byte) (bool, bool, error) {
		var err error
		switch string(key) {
		case "resourceVersion":
			rv, err = c.str()
		case "continue":
			cont, err = c.str()
		default:
			return true, false, nil
		}
		return false, false, err
	})
	return rv, cont, err
}

// parseRFC3339 parses an RFC 3339 timestamp with optional fraction.
func parseRFC3339(b []byte) (time.Time, bool) {
	if len(b) == 20 {
		if s := parseRFC3339Seconds(b); s != 0 {
			return time.Unix(s, 0), true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	return t, err == nil
}

// parseRFC3339Seconds parses the API server's "2006-01-02T15:04:05Z" form
// without the generality (and cost) of time.Parse, falling back to it for
// anything else. It returns 0 when the value cannot be parsed.
func parseRFC3339Seconds(b []byte) int64 {
	if len(b) == 20 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[19] == 'Z' {
		num := func(s []byte) (int, bool) {
			n := 0
			for _, ch := range s {
				if ch < '0' || ch > '9' {
					return 0, false
				}
				n = n*10 + int(ch-'0')
			}
			return n, true
		}
		y, ok1 := num(b[0:4])
		mo, ok2 := num(b[5:7])
		d, ok3 := num(b[8:10])
		h, ok4 := num(b[11:13])
		mi, ok5 := num(b[14:16])
		s, ok6 := num(b[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 {
			// time.Date normalises out-of-range fields (month 13, hour
			// 99); only a date that survives unchanged is valid, anything
			// else goes to time.Parse, which rejects it.
			t := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
			if int(t.Month()) == mo && t.Day() == d && t.Hour() == h && t.Minute() == mi && t.Second() == s {
				return t.Unix()
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0
	}
	return t.Unix()
}
