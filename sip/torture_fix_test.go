package sip

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/registrar"
)

func tortureMsg(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata/sip-torture", name+".sip"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestBadVersionStatusLine: the 505 to a SIP/7.0 request is written in our
// version (RFC 3261 §7.2; RFC 4475 §3.1.2.16 badvers).
func TestBadVersionStatusLine(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") })
	p := newPhone(t, s, false)
	p.send(string(pointVia(tortureMsg(t, "badvers"), p.local.String())))
	p.pc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := p.pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("badvers: no answer: %v", err)
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	if !strings.HasPrefix(line, "SIP/2.0 505 ") {
		t.Errorf("badvers: status line = %q, want SIP/2.0 505 ...", line)
	}
}

type tortureDir struct{}

func (tortureDir) Lookup(string) (registrar.Credentials, bool) { return registrar.Credentials{}, false }

type tortureStore struct{}

func (tortureStore) SetBinding(context.Context, string, registrar.Binding, time.Duration) error {
	return nil
}
func (tortureStore) RemoveBinding(context.Context, string) error { return nil }

// TestTortureWithRegistrar sends the REGISTER torture messages to a server
// with the registrar wired as cmd/ivrgw wires it: the registrar's own
// header checks must see them (regbadct: an unbracketed Contact URI with
// headers is 400, RFC 4475 §3.1.2.13).
func TestTortureWithRegistrar(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") }, func(s *Server) {
		r := registrar.New(registrar.Config{Realm: "ivrgw", Directory: tortureDir{}, Bindings: tortureStore{}})
		s.Handle("REGISTER", r.ServeRegister)
	})
	tests := []struct {
		name string
		want int
	}{
		{"regbadct", 400},
		{"unksm2", 400},
		{"regaut01", 401},
		{"cparam01", 401},
		{"cparam02", 401},
		{"regescrt", 401},
		{"escnull", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPhone(t, s, false)
			p.send(string(pointVia(tortureMsg(t, tt.name), p.local.String())))
			res := firstFinal(p, false)
			if res == nil || res.StatusCode != tt.want {
				t.Errorf("%s: response %v, want %d", tt.name, statusOf(res), tt.want)
			}
		})
	}
}

func statusOf(res *sip.Response) any {
	if res == nil {
		return "none"
	}
	return res.StatusCode
}

// TestDoubleRequestTCP: over TCP, dblreq's REGISTER is followed by octets
// that end the stream's framing; the REGISTER's answer must still reach
// the sender before the connection is closed (RFC 4475 §3.1.1.8).
func TestDoubleRequestTCP(t *testing.T) {
	s := startServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") })
	c, err := net.Dial("tcp4", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &phone{t: t, tcp: true, c: c, r: bufio.NewReader(c), local: addrPortOf(c.LocalAddr())}
	p.send(string(tortureMsg(t, "dblreq")))
	var got []int
	for range 4 {
		m := p.recv(3 * time.Second)
		if m == nil {
			break
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode >= 200 && res.CSeq() != nil && res.CSeq().MethodName == sip.REGISTER {
			got = append(got, res.StatusCode)
		}
	}
	if len(got) != 1 || got[0] != 405 {
		t.Errorf("dblreq over TCP: REGISTER answers %v, want [405]", got)
	}
	// Then the connection is closed: the stream cannot be resynchronised.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, p.r); err != nil {
		t.Errorf("dblreq over TCP: connection not closed after the answers: %v", err)
	}
}
