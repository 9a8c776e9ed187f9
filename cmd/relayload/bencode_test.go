package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestBencodeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   any
		enc  string
		out  any // decoded form, when it differs from in
	}{
		{"empty string", "", "0:", nil},
		{"string", "spam", "4:spam", nil},
		{"binary", "a\x00b:e", "5:a\x00b:e", nil},
		{"bytes", []byte("ab"), "2:ab", "ab"},
		{"int", int64(42), "i42e", nil},
		{"negative", int64(-7), "i-7e", nil},
		{"zero", 0, "i0e", int64(0)},
		{"list", []any{"a", int64(1)}, "l1:ai1ee", nil},
		{"strings", []string{"x", "yz"}, "l1:x2:yze", []any{"x", "yz"}},
		{"empty list", []any{}, "le", nil},
		{"dict sorted", map[string]any{"sdp": "v=0", "command": "offer", "call-id": "c1"},
			"d7:call-id2:c17:command5:offer3:sdp3:v=0e", nil},
		{"nested", map[string]any{"flags": []any{"trust-address"}, "n": map[string]any{}},
			"d5:flagsl13:trust-addresse1:ndee", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bencodeEncode(nil, tt.in)
			if err != nil || string(b) != tt.enc {
				t.Fatalf("bencodeEncode(%v) = %q, %v, want %q", tt.in, b, err, tt.enc)
			}
			got, err := bencodeDecode(b)
			want := tt.out
			if want == nil {
				want = tt.in
			}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("bencodeDecode(%q) = %#v, %v, want %#v", b, got, err, want)
			}
		})
	}
}

func TestBencodeEncodeErrors(t *testing.T) {
	deep := any("x")
	for range maxBencodeDepth + 2 {
		deep = []any{deep}
	}
	for name, in := range map[string]any{
		"float":       1.5,
		"nested type": map[string]any{"k": struct{}{}},
		"too deep":    deep,
	} {
		if _, err := bencodeEncode(nil, in); !errors.Is(err, errBencode) {
			t.Errorf("bencodeEncode(%s) error = %v, want errBencode", name, err)
		}
	}
}

func TestBencodeMalformed(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"trailing", "i1ei2e"},
		{"bad lead byte", "x"},
		{"string past end", "5:abc"},
		{"no colon", "3abc"},
		{"leading zero length", "03:abc"},
		{"huge length", "99999999999:a"},
		{"unterminated int", "i42"},
		{"empty int", "ie"},
		{"minus zero", "i-0e"},
		{"leading zero int", "i03e"},
		{"plus int", "i+3e"},
		{"int overflow", "i99999999999999999999e"},
		{"int garbage", "i1x2e"},
		{"unterminated list", "l1:a"},
		{"unterminated dict", "d1:a1:b"},
		{"dict int key", "di1e1:ae"},
		{"dict missing value", "d1:ae"},
		{"duplicate key", "d1:a1:b1:a1:ce"},
		{"too deep", strings.Repeat("l", maxBencodeDepth+5) + strings.Repeat("e", maxBencodeDepth+5)},
		{"too many items", "l" + strings.Repeat("i1e", maxBencodeItems+1) + "e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := bencodeDecode([]byte(tt.in)); !errors.Is(err, errBencode) {
				t.Errorf("bencodeDecode(%.40q) = %v, %v, want errBencode", tt.in, v, err)
			}
		})
	}
}

// FuzzBencodeDecode: no input panics, and whatever decodes re-encodes to
// something that decodes to the same value.
func FuzzBencodeDecode(f *testing.F) {
	for _, s := range []string{"d7:command4:pinge", "d6:result2:ok3:sdp3:v=0e", "li1ei-2e0:e", "i0e", "l", "d1:a"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := bencodeDecode(b)
		if err != nil {
			return
		}
		enc, err := bencodeEncode(nil, v)
		if err != nil {
			t.Fatalf("bencodeEncode(bencodeDecode(%q)) error %v", b, err)
		}
		v2, err := bencodeDecode(enc)
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("bencodeDecode(%q) = %#v, %v, want %#v", enc, v2, err, v)
		}
	})
}
