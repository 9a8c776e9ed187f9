package sip

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRejectRaw feeds the stateless-400 builder hostile datagrams: it must
// not panic, and what it sends must be one well-framed response whose
// lines all came from single header lines (no CR/LF injection).
func FuzzRejectRaw(f *testing.F) {
	files, _ := filepath.Glob("testdata/sip-torture/*.sip")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	s := &Server{cfg: Config{UserAgent: "fuzz"}}
	src := netip.MustParseAddrPort("127.0.0.1:5070")
	f.Fuzz(func(t *testing.T, data []byte) {
		res, dst, ok := s.rejectRaw(data, src)
		if !ok {
			return
		}
		if dst.Addr() != src.Addr() || dst.Port() == 0 {
			t.Fatalf("rejectRaw() destination = %v, want %v with a port", dst, src.Addr())
		}
		r := string(res)
		if !strings.HasPrefix(r, "SIP/2.0 400 ") && !strings.HasPrefix(r, "SIP/2.0 416 ") {
			t.Fatalf("rejectRaw() = %q, want a 400 or 416", r)
		}
		if strings.Count(r, "\r\n\r\n") != 1 || !strings.HasSuffix(r, "Content-Length: 0\r\n\r\n") {
			t.Fatalf("rejectRaw() = %q, want one header section ending the message", r)
		}
		if strings.Count(r, "\n") != strings.Count(r, "\r\n") || strings.Count(r, "\r") != strings.Count(r, "\r\n") {
			t.Fatalf("rejectRaw() = %q has a bare CR or LF", r)
		}
	})
}
