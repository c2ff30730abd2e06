package watch

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// valueScanner finds where one JSON value ends without interpreting it. It
// is resumable: a value split across reads is scanned chunk by chunk, with
// the string/escape/depth state carried over. Most bytes of a Kubernetes
// object sit inside strings, which are crossed with bytes.IndexByte, so a
// skip costs well under a nanosecond per byte.
type valueScanner struct {
	depth   int
	inStr   bool
	esc     bool
	started bool
	scalar  bool
}

// scan consumes bytes of p and reports how many belong to the value and
// whether the value is complete. Leading whitespace is consumed. A scalar
// (number, true, false, null) ends at the first delimiter, which is not
// consumed; a scalar cut by the end of p is reported incomplete.
func (v *valueScanner) scan(p []byte) (int, bool) {
	i := 0
	for i < len(p) {
		if v.inStr {
			if v.esc {
				v.esc = false
				i++
				continue
			}
			rest := p[i:]
			q := bytes.IndexByte(rest, '"')
			if q < 0 {
				q = len(rest)
			}
			if bs := bytes.IndexByte(rest[:q], '\\'); bs >= 0 {
				i += bs + 1
				v.esc = true
				continue
			}
			if q == len(rest) {
				return len(p), false
			}
			i += q + 1
			v.inStr = false
			if v.depth == 0 {
				return i, true
			}
			continue
		}
		c := p[i]
		if v.scalar {
			switch c {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, true
			}
			i++
			continue
		}
		switch c {
		case '"':
			v.inStr = true
			v.started = true
		case '{', '[':
			v.depth++
			v.started = true
		case '}', ']':
			v.depth--
			if v.depth == 0 {
				return i + 1, true
			}
		case ' ', '\t', '\n', '\r', ',', ':':
		default:
			if !v.started {
				v.started = true
				v.scalar = true
			}
		}
		i++
	}
	return i, false
}

// skipJSON returns the index just after the JSON value starting at or after
// b[i], or -1 when b ends first. It is the in-memory fast path: strings are
// crossed eight bytes at a time, structure with a table lookup per byte.
func skipJSON(b []byte, i int) int {
	for i < len(b) && jsonClass[b[i]] == classSpace {
		i++
	}
	if i >= len(b) {
		return -1
	}
	switch jsonClass[b[i]] {
	case classQuote:
		return skipString(b, i+1)
	case classOpen:
		return skipContainer(b, i)
	}
	for i < len(b) {
		switch jsonClass[b[i]] {
		case classSpace, classComma, classClose:
			return i
		}
		i++
	}
	return i // a scalar ending the document
}

const (
	classPlain uint8 = iota
	classQuote
	classBackslash
	classOpen
	classClose
	classSpace
	classComma
)

var jsonClass = func() [256]uint8 {
	var t [256]uint8
	t['"'] = classQuote
	t['\\'] = classBackslash
	t['{'], t['['] = classOpen, classOpen
	t['}'], t[']'] = classClose, classClose
	t[' '], t['\t'], t['\n'], t['\r'] = classSpace, classSpace, classSpace, classSpace
	t[','], t[':'] = classComma, classComma
	return t
}()

// skipContainer returns the index after the object or array at b[i].
// Outside strings the depth changes by a table lookup (no branch per
// structural byte); strings are crossed eight bytes at a time. Managed
// fields hold one short string every few bytes, so both paths are hot.
func skipContainer(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		c := b[i]
		if c != '"' {
			depth += int(depthDelta[c])
			i++
			if depth == 0 {
				return i
			}
			continue
		}
		i++
		for {
			if i+8 > len(b) {
				if i = skipStringTail(b, i); i < 0 {
					return -1
				}
				break
			}
			x := binary.LittleEndian.Uint64(b[i:])
			q := x ^ (swarLo * '"')
			s := x ^ (swarLo * '\\')
			m := ((q - swarLo) &^ q & swarHi) | ((s - swarLo) &^ s & swarHi)
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
			if b[i] == '"' {
				i++
				break
			}
			i += 2
		}
	}
	return -1
}

// depthDelta is +1 for an opening bracket, -1 for a closing one.
var depthDelta = func() [256]int8 {
	var t [256]int8
	t['{'], t['['] = 1, 1
	t['}'], t[']'] = -1, -1
	return t
}()

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// skipString returns the index after the closing quote of the string whose
// contents start at b[i], or -1. Eight bytes at a time, it looks for a
// quote or a backslash with the classic has-zero-byte trick; the lowest
// flagged byte is exact.
func skipString(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (swarLo * '"')
		s := x ^ (swarLo * '\\')
		m := ((q - swarLo) &^ q & swarHi) | ((s - swarLo) &^ s & swarHi)
		if m == 0 {
			i += 8
			continue
		}
		i += bits.TrailingZeros64(m) >> 3
		if b[i] == '"' {
			return i + 1
		}
		i += 2 // an escape pair
	}
	return skipStringTail(b, i)
}

// skipStringTail finishes a string in the last few bytes of b.
func skipStringTail(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return -1
}
