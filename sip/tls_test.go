package sip

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

func TestSRTPLocalPolicy(t *testing.T) {
	tests := []struct {
		mode     sdp.SRTPMode
		overTLS  bool
		wantMode sdp.SRTPMode
		wantErr  error
	}{
		{sdp.SRTPOff, true, sdp.SRTPOff, nil},
		{sdp.SRTPOff, false, sdp.SRTPOff, nil},
		{sdp.SRTPOptional, true, sdp.SRTPOptional, nil},
		{sdp.SRTPOptional, false, sdp.SRTPOff, nil}, // keys never go out in clear signalling
		{sdp.SRTPRequired, true, sdp.SRTPRequired, nil},
		{sdp.SRTPRequired, false, sdp.SRTPOff, ErrSRTPNeedsTLS},
	}
	for _, tt := range tests {
		s := &Server{cfg: Config{SRTP: tt.mode}}
		got, err := s.srtpLocal(testLocal, tt.overTLS)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("srtpLocal(%v, tls %v) error = %v, want %v", tt.mode, tt.overTLS, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		wantKey := 0
		if tt.wantMode != sdp.SRTPOff {
			wantKey = sdp.KeyLen
		}
		if got.SRTP != tt.wantMode || len(got.Key) != wantKey {
			t.Errorf("srtpLocal(%v, tls %v) = mode %v, %d-byte key, want %v, %d", tt.mode, tt.overTLS, got.SRTP, len(got.Key), tt.wantMode, wantKey)
		}
	}
	s := &Server{cfg: Config{SRTP: sdp.SRTPRequired}}
	a, _ := s.srtpLocal(testLocal, true)
	b, _ := s.srtpLocal(testLocal, true)
	if string(a.Key) == string(b.Key) {
		t.Errorf("srtpLocal() gave two legs the same key %x, want a fresh one each (RFC 4568 §6.1)", a.Key)
	}
}

func TestTLSContact(t *testing.T) {
	s := &Server{cfg: Config{PublicIP: netip.MustParseAddr("127.0.0.9")}, tlsL: fakeListener{"127.0.0.1:5061"}}
	tests := []struct {
		ruri, transport, want string
	}{
		{"sips:support@127.0.0.1:5061", "TLS", "<sips:127.0.0.9:5061>"},
		{"sip:support@127.0.0.1:5061;transport=tls", "TLS", "<sip:127.0.0.9:5061;transport=tls>"},
	}
	for _, tt := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tt.ruri, &u); err != nil {
			t.Fatal(err)
		}
		req := sip.NewRequest(sip.INVITE, u)
		req.SetTransport(tt.transport)
		if got := s.contactFor(req); got != tt.want {
			t.Errorf("contactFor(%s over %s) = %s, want %s", tt.ruri, tt.transport, got, tt.want)
		}
	}
	if got, want := s.contact("TLS"), "<sip:127.0.0.9:5061;transport=tls>"; got != want {
		t.Errorf("contact(TLS) = %s, want %s", got, want)
	}
}

func TestKeysChanged(t *testing.T) {
	k1 := &sdp.SRTP{Suite: sdp.SuiteAES128SHA1_80, RemoteKey: []byte("a"), LocalKey: []byte("x")}
	k1again := &sdp.SRTP{Suite: sdp.SuiteAES128SHA1_80, RemoteKey: []byte("a"), LocalKey: []byte("x")}
	k2 := &sdp.SRTP{Suite: sdp.SuiteAES128SHA1_80, RemoteKey: []byte("b"), LocalKey: []byte("x")}
	tests := []struct {
		name      string
		old, next *sdp.SRTP
		want      bool
	}{
		{"plain stays plain", nil, nil, false},
		{"same key", k1, k1again, false},
		{"new remote key", k1, k2, true},
		{"srtp dropped", k1, nil, true},
		{"srtp added", nil, k1, true},
	}
	for _, tt := range tests {
		if got := keysChanged(sdp.Media{SRTP: tt.old}, sdp.Media{SRTP: tt.next}); got != tt.want {
			t.Errorf("keysChanged(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// fakeListener is a net.Listener that only has an address.
type fakeListener struct{ addr string }

func (f fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (f fakeListener) Close() error              { return nil }
func (f fakeListener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(f.addr))
}
