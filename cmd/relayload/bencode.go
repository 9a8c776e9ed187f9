package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Bencode, as rtpengine's NG control protocol uses it: byte strings
// ("4:spam"), integers ("i42e"), lists ("l...e") and dictionaries
// ("d...e", keys are byte strings, sorted on output).
//
// Decoded values are string, int64, []any and map[string]any. Encode also
// takes []byte, int and []string.

// Decoder limits: the input is whatever arrives on a UDP socket.
const (
	maxBencodeDepth = 32
	maxBencodeItems = 1 << 16
)

var errBencode = errors.New("bencode")

// bencodeEncode appends the encoding of v to dst.
func bencodeEncode(dst []byte, v any) ([]byte, error) {
	return bencodeAppend(dst, v, 0)
}

func bencodeAppend(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxBencodeDepth {
		return dst, fmt.Errorf("%w: nested deeper than %d", errBencode, maxBencodeDepth)
	}
	switch x := v.(type) {
	case string:
		dst = strconv.AppendInt(dst, int64(len(x)), 10)
		dst = append(dst, ':')
		return append(dst, x...), nil
	case []byte:
		dst = strconv.AppendInt(dst, int64(len(x)), 10)
		dst = append(dst, ':')
		return append(dst, x...), nil
	case int:
		dst = append(dst, 'i')
		dst = strconv.AppendInt(dst, int64(x), 10)
		return append(dst, 'e'), nil
	case int64:
		dst = append(dst, 'i')
		dst = strconv.AppendInt(dst, x, 10)
		return append(dst, 'e'), nil
	case []string:
		dst = append(dst, 'l')
		for _, s := range x {
			dst, _ = bencodeAppend(dst, s, depth+1)
		}
		return append(dst, 'e'), nil
	case []any:
		dst = append(dst, 'l')
		var err error
		for _, e := range x {
			if dst, err = bencodeAppend(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, 'd')
		var err error
		for _, k := range keys {
			dst, _ = bencodeAppend(dst, k, depth+1)
			if dst, err = bencodeAppend(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	default:
		return dst, fmt.Errorf("%w: cannot encode %T", errBencode, v)
	}
}

// bencodeDecode decodes exactly one value filling all of b.
func bencodeDecode(b []byte) (any, error) {
	d := decoder{b: b}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.i != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBencode, len(b)-d.i)
	}
	return v, nil
}

type decoder struct {
	b     []byte
	i     int
	items int
}

func (d *decoder) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errBencode, what, d.i)
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxBencodeDepth {
		return nil, d.fail("nested too deep")
	}
	if d.items++; d.items > maxBencodeItems {
		return nil, d.fail("too many items")
	}
	if d.i >= len(d.b) {
		return nil, d.fail("unexpected end")
	}
	switch c := d.b[d.i]; {
	case c >= '0' && c <= '9':
		return d.str()
	case c == 'i':
		d.i++
		return d.int()
	case c == 'l':
		d.i++
		list := []any{}
		for n := 0; n <= maxBencodeItems; n++ {
			if d.i >= len(d.b) {
				return nil, d.fail("unterminated list")
			}
			if d.b[d.i] == 'e' {
				d.i++
				return list, nil
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return nil, d.fail("list too long")
	case c == 'd':
		d.i++
		dict := map[string]any{}
		for n := 0; n <= maxBencodeItems; n++ {
			if d.i >= len(d.b) {
				return nil, d.fail("unterminated dictionary")
			}
			if d.b[d.i] == 'e' {
				d.i++
				return dict, nil
			}
			if c := d.b[d.i]; c < '0' || c > '9' {
				return nil, d.fail("dictionary key is not a string")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if _, dup := dict[k]; dup {
				return nil, d.fail("duplicate key")
			}
			dict[k] = v
		}
		return nil, d.fail("dictionary too long")
	default:
		return nil, d.fail(fmt.Sprintf("unexpected byte %q", c))
	}
}

// str reads "len:bytes".
func (d *decoder) str() (string, error) {
	n := 0
	start := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		if d.i-start >= 9 { // 999,999,999 bytes is more than any datagram
			return "", d.fail("string length too long")
		}
		n = n*10 + int(d.b[d.i]-'0')
		d.i++
	}
	if d.i-start > 1 && d.b[start] == '0' {
		return "", d.fail("leading zero in string length")
	}
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		return "", d.fail("missing ':' after string length")
	}
	d.i++
	if n > len(d.b)-d.i {
		return "", d.fail("string runs past the end")
	}
	s := string(d.b[d.i : d.i+n])
	d.i += n
	return s, nil
}

// int reads digits up to 'e' (the 'i' is consumed).
func (d *decoder) int() (int64, error) {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] != 'e' {
		if d.i-start > 20 {
			return 0, d.fail("integer too long")
		}
		d.i++
	}
	if d.i >= len(d.b) {
		return 0, d.fail("unterminated integer")
	}
	digits := string(d.b[start:d.i])
	d.i++
	if digits == "" || digits == "-" || digits == "-0" ||
		(len(digits) > 1 && digits[0] == '0') || (len(digits) > 2 && digits[:2] == "-0") {
		return 0, d.fail("malformed integer")
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || digits[0] == '+' {
		return 0, d.fail("malformed integer")
	}
	return v, nil
}
