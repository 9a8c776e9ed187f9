package registrar

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// BenchmarkServeRegister measures one authenticated REGISTER (SHA-256)
// through ServeRegister, message parsing excluded.
func BenchmarkServeRegister(b *testing.B) {
	h := newHarness(b)
	h.now = time.Now()
	h.r.cfg.Now = time.Now
	res := h.send(h.build(msg{to: "2001"}), "127.0.0.1:5062")
	c := pick(b, res, "SHA-256")
	reqs := make([]*sip.Request, b.N)
	for i := range reqs {
		raw := h.build(msg{to: "2001", auth: authz(c, "SHA-256", "SHA-256", "2001", "pw2001", fmt.Sprintf("%08x", i+1))})
		m, err := h.parser.ParseSIP([]byte(raw))
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = m.(*sip.Request)
		reqs[i].SetSource("127.0.0.1:5062")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tx := siptest.NewServerTxRecorder(reqs[i])
		h.r.ServeRegister(reqs[i], tx)
		tx.Terminate()
	}
	b.StopTimer()
	if len(h.store.sets) != b.N {
		b.Fatalf("stored %d, want %d", len(h.store.sets), b.N)
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	v := `Digest username="1001", realm="ivrgw", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", uri="sip:127.0.0.1", response="3662564deb5b557a1c03767465dfed7771da1b382afdfad48addf0b5284deebc", algorithm=SHA-256, cnonce="0a4f113b", nc=00000001, qop=auth, opaque="deadbeefdeadbeef"`
	b.ReportAllocs()
	for range b.N {
		if _, err := parseAuthorization(v); err != nil {
			b.Fatal(err)
		}
	}
}
