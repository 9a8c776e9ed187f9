package sdp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var local = Local{Addr: netip.MustParseAddr("127.0.0.1"), Port: 30000, Codecs: []uint8{PCMU, PCMA}, SessionID: 42, Version: 7}

// crlf turns a readable multi-line literal into SDP with CRLF line ends.
func crlf(s string) []byte {
	s = strings.TrimLeft(s, "\n")
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimLeft(lines[i], "\t")
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// Offers as sent by real peers (addresses moved to loopback).
var (
	offerBaresip = crlf(`
		v=0
		o=- 1955474787 3196329596 IN IP4 127.0.0.1
		s=-
		c=IN IP4 127.0.0.1
		t=0 0
		m=audio 10000 RTP/AVP 0 8 101
		b=AS:64
		a=rtpmap:0 PCMU/8000
		a=rtpmap:8 PCMA/8000
		a=rtpmap:101 telephone-event/8000
		a=fmtp:101 0-15
		a=ptime:20
		a=rtcp-rsize
		a=sendrecv`)
	offerLinphone = crlf(`
		v=0
		o=alice 3425 3426 IN IP4 127.0.0.10
		s=Talk
		c=IN IP4 127.0.0.10
		t=0 0
		a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
		m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
		a=rtpmap:96 opus/48000/2
		a=fmtp:96 useinbandfec=1
		a=rtpmap:97 speex/16000
		a=fmtp:97 vbr=on
		a=rtpmap:98 speex/8000
		a=fmtp:98 vbr=on
		a=fmtp:18 annexb=yes
		a=rtpmap:101 telephone-event/48000
		a=rtpmap:99 telephone-event/16000
		a=rtpmap:100 telephone-event/8000
		a=rtcp-fb:* trr-int 1000
		a=rtcp-fb:* ccm tmmbr`)
	offerZoiper = crlf(`
		v=0
		o=Z 0 0 IN IP4 127.0.0.5
		s=Z
		c=IN IP4 127.0.0.5
		t=0 0
		m=audio 8000 RTP/AVP 106 9 98 101 0 8 3
		a=rtpmap:106 opus/48000/2
		a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1
		a=rtpmap:98 telephone-event/48000
		a=fmtp:98 0-16
		a=rtpmap:101 telephone-event/8000
		a=fmtp:101 0-16
		a=sendrecv`)
	offerTrunkPCMA = crlf(`
		v=0
		o=Sonus_UAC 123 456 IN IP4 127.0.0.50
		s=SIP Media Capabilities
		c=IN IP4 127.0.0.50
		t=0 0
		m=audio 20000 RTP/AVP 8 0 96
		a=rtpmap:8 PCMA/8000
		a=rtpmap:0 PCMU/8000
		a=rtpmap:96 telephone-event/8000
		a=fmtp:96 0-15
		a=ptime:20
		a=maxptime:40`)
	offerVideoFirst = crlf(`
		v=0
		o=- 1 1 IN IP4 127.0.0.9
		s=-
		c=IN IP4 127.0.0.99
		t=0 0
		m=video 9000 RTP/AVP 97
		a=rtpmap:97 H264/90000
		m=audio 9002 RTP/AVP 0 126
		c=IN IP4 127.0.0.9
		a=rtpmap:126 telephone-event/8000
		a=fmtp:126 0-16
		a=ptime:30`)
)

// hold builds an offer from baresip's with its direction line replaced and
// an optional connection address.
func hold(dirLine, conn string) []byte {
	s := strings.Replace(string(offerBaresip), "a=sendrecv\r\n", dirLine, 1)
	if conn != "" {
		s = strings.Replace(s, "c=IN IP4 127.0.0.1", "c=IN IP4 "+conn, 1)
	}
	return []byte(s)
}

func TestNegotiate(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name    string
		offer   []byte
		local   Local
		want    Media
		lines   []string // lines the answer must contain
		notWant []string // lines it must not contain
		wantErr error
	}{
		{name: "baresip", offer: offerBaresip, local: local,
			want:  Media{Remote: ap("127.0.0.1:10000"), PayloadType: 0, Codec: 0, EventPT: 101, HasEvents: true, Ptime: 20},
			lines: []string{"m=audio 30000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv", "o=- 42 7 IN IP4 127.0.0.1", "c=IN IP4 127.0.0.1"}},
		{name: "linphone event 100 among 48k and 16k events", offer: offerLinphone, local: local,
			want:  Media{Remote: ap("127.0.0.10:7078"), PayloadType: 0, EventPT: 100, HasEvents: true, Ptime: 20},
			lines: []string{"m=audio 30000 RTP/AVP 0 100", "a=rtpmap:100 telephone-event/8000", "a=fmtp:100 0-15"}},
		{name: "zoiper opus first", offer: offerZoiper, local: local,
			want:  Media{Remote: ap("127.0.0.5:8000"), PayloadType: 0, EventPT: 101, HasEvents: true, Ptime: 20},
			lines: []string{"m=audio 30000 RTP/AVP 0 101", "a=fmtp:101 0-16"}},
		{name: "trunk PCMA first event 96", offer: offerTrunkPCMA, local: local,
			want:  Media{Remote: ap("127.0.0.50:20000"), PayloadType: 8, Codec: 8, EventPT: 96, HasEvents: true, Ptime: 20},
			lines: []string{"m=audio 30000 RTP/AVP 8 96", "a=rtpmap:8 PCMA/8000", "a=rtpmap:96 telephone-event/8000", "a=fmtp:96 0-15"}},
		{name: "video refused in place, media-level c, event 126", offer: offerVideoFirst, local: local,
			want:  Media{Remote: ap("127.0.0.9:9002"), PayloadType: 0, EventPT: 126, HasEvents: true, Ptime: 30},
			lines: []string{"m=video 0 RTP/AVP 97", "m=audio 30000 RTP/AVP 0 126", "a=fmtp:126 0-16"}},
		{name: "our preference PCMA only", offer: offerBaresip, local: Local{Addr: local.Addr, Port: 4000, Codecs: []uint8{PCMA}},
			want:  Media{Remote: ap("127.0.0.1:10000"), PayloadType: 8, Codec: 8, EventPT: 101, HasEvents: true, Ptime: 20},
			lines: []string{"m=audio 4000 RTP/AVP 8 101"}},
		{name: "hold sendonly", offer: hold("a=sendonly\r\n", ""), local: local,
			want:  Media{Remote: ap("127.0.0.1:10000"), EventPT: 101, HasEvents: true, Direction: SendOnly, Ptime: 20, Hold: true},
			lines: []string{"a=recvonly"}, notWant: []string{"a=sendrecv"}},
		{name: "hold inactive", offer: hold("a=inactive\r\n", ""), local: local,
			want:  Media{Remote: ap("127.0.0.1:10000"), EventPT: 101, HasEvents: true, Direction: Inactive, Ptime: 20, Hold: true},
			lines: []string{"a=inactive"}},
		{name: "RFC 2543 hold c=0.0.0.0", offer: hold("a=sendrecv\r\n", "0.0.0.0"), local: local,
			want:  Media{Remote: ap("0.0.0.0:10000"), EventPT: 101, HasEvents: true, Ptime: 20, Hold: true},
			lines: []string{"a=sendrecv"}},
		{name: "recvonly is not hold", offer: hold("a=recvonly\r\n", ""), local: local,
			want:  Media{Remote: ap("127.0.0.1:10000"), EventPT: 101, HasEvents: true, Direction: RecvOnly, Ptime: 20},
			lines: []string{"a=sendonly"}},
		{name: "session-level sendonly", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 127.0.0.1
			t=0 0
			a=sendonly
			m=audio 5004 RTP/AVP 8`), local: local,
			want:  Media{Remote: ap("127.0.0.1:5004"), PayloadType: 8, Codec: 8, Direction: SendOnly, Ptime: 20, Hold: true},
			lines: []string{"m=audio 30000 RTP/AVP 8", "a=recvonly"}, notWant: []string{"telephone-event"}},
		{name: "dynamic PT mapped to PCMU", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 127.0.0.1
			t=0 0
			m=audio 5004 RTP/AVP 110 101
			a=rtpmap:110 pcmu/8000
			a=rtpmap:101 telephone-event/8000`), local: local,
			want:  Media{Remote: ap("127.0.0.1:5004"), PayloadType: 110, Codec: 0, EventPT: 101, HasEvents: true, Ptime: 20},
			lines: []string{"m=audio 30000 RTP/AVP 110 101", "a=rtpmap:110 PCMU/8000"}},
		{name: "disabled audio then usable audio", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 127.0.0.1
			t=0 0
			m=audio 0 RTP/AVP 0
			m=audio 6000 RTP/AVP 8`), local: local,
			want:  Media{Remote: ap("127.0.0.1:6000"), PayloadType: 8, Codec: 8, Ptime: 20},
			lines: []string{"m=audio 0 RTP/AVP 0", "m=audio 30000 RTP/AVP 8"}},
		{name: "no common codec", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 127.0.0.1
			t=0 0
			m=audio 5004 RTP/AVP 18 9 101
			a=rtpmap:18 G729/8000
			a=rtpmap:101 telephone-event/8000`), local: local, wantErr: ErrNoCommonCodec},
		{name: "SRTP only", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 127.0.0.1
			t=0 0
			m=audio 5004 RTP/SAVP 0`), local: local, wantErr: ErrNoCommonCodec},
		{name: "video only", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 127.0.0.1
			t=0 0
			m=video 5004 RTP/AVP 97`), local: local, wantErr: ErrNoCommonCodec},
		{name: "PCMU at 16 kHz is not PCMU", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 127.0.0.1
			t=0 0
			m=audio 5004 RTP/AVP 0
			a=rtpmap:0 PCMU/16000`), local: local, wantErr: ErrNoCommonCodec},
		{name: "no c= line", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			t=0 0
			m=audio 5004 RTP/AVP 0`), local: local, wantErr: ErrMalformed},
		{name: "host name in c=", offer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.1
			s=-
			c=IN IP4 media.example.com
			t=0 0
			m=audio 5004 RTP/AVP 0`), local: local, wantErr: ErrMalformed},
		{name: "not SDP", offer: []byte("hello world\r\n"), local: local, wantErr: ErrMalformed},
		{name: "empty", offer: nil, local: local, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer, m, err := Negotiate(tt.offer, tt.local)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Negotiate() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Negotiate() error = %v, want nil", err)
			}
			if m != tt.want {
				t.Errorf("Negotiate() media = %+v, want %+v", m, tt.want)
			}
			got := strings.Split(string(answer), "\r\n")
			for _, l := range tt.lines {
				if !contains(got, l) {
					t.Errorf("Negotiate() answer lacks %q:\n%s", l, answer)
				}
			}
			for _, l := range tt.notWant {
				if strings.Contains(string(answer), l) {
					t.Errorf("Negotiate() answer has %q:\n%s", l, answer)
				}
			}
			if len(answer) > 400 {
				t.Errorf("Negotiate() answer is %d bytes, want <= 400", len(answer))
			}
			// Our answer must read back as the other side would see it.
			back, err := ParseAnswer(answer, tt.local)
			if err != nil {
				t.Fatalf("ParseAnswer(our answer) error = %v", err)
			}
			if back.Remote != netip.AddrPortFrom(tt.local.Addr, uint16(tt.local.Port)) || back.PayloadType != m.PayloadType || back.Direction != m.Direction.Reverse() {
				t.Errorf("ParseAnswer(our answer) = %+v, want remote %v:%d pt %d dir %v", back, tt.local.Addr, tt.local.Port, m.PayloadType, m.Direction.Reverse())
			}
		})
	}
}

func contains(lines []string, l string) bool {
	for _, x := range lines {
		if x == l {
			return true
		}
	}
	return false
}

func TestNegotiateTooManyMLines(t *testing.T) {
	offer := string(crlf(`
		v=0
		o=- 1 2 IN IP4 127.0.0.1
		s=-
		c=IN IP4 127.0.0.1
		t=0 0`))
	for range maxMediaLines {
		offer += "m=video 5000 RTP/AVP 97\r\n"
	}
	offer += "m=audio 5004 RTP/AVP 0\r\n"
	if _, _, err := Negotiate([]byte(offer), local); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("Negotiate(%d m-lines) error = %v, want %v", maxMediaLines+1, err, ErrNoCommonCodec)
	}
}

func TestNegotiateNoLineInjection(t *testing.T) {
	offer := crlf(`
		v=0
		o=- 1 2 IN IP4 127.0.0.1
		s=-
		c=IN IP4 127.0.0.1
		t=0 0
		m=audio 5004 RTP/AVP 0 101
		a=rtpmap:101 telephone-event/8000
		a=fmtp:101 0-15 x=1;a=inject`)
	answer, _, err := Negotiate(offer, local)
	if err != nil {
		t.Fatalf("Negotiate() error = %v", err)
	}
	if strings.Contains(string(answer), "inject") {
		t.Errorf("Negotiate() answer echoes a crafted fmtp:\n%s", answer)
	}
}

func TestOfferAndParseAnswer(t *testing.T) {
	offer := Offer(local)
	want := "m=audio 30000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
	if !strings.HasSuffix(string(offer), want) {
		t.Errorf("Offer() = %q, want suffix %q", offer, want)
	}
	// A peer answering our offer with Negotiate must land on our first codec.
	peer := Local{Addr: netip.MustParseAddr("127.0.0.2"), Port: 40000, Codecs: []uint8{PCMA, PCMU}, SessionID: 1, Version: 1}
	answer, _, err := Negotiate(offer, peer)
	if err != nil {
		t.Fatalf("Negotiate(Offer()) error = %v", err)
	}
	tests := []struct {
		name    string
		answer  []byte
		want    Media
		wantErr error
	}{
		{name: "peer answer", answer: answer,
			want: Media{Remote: netip.MustParseAddrPort("127.0.0.2:40000"), PayloadType: 0, EventPT: 101, HasEvents: true, Ptime: 20}},
		{name: "answer picks PCMA", answer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.3
			s=-
			c=IN IP4 127.0.0.3
			t=0 0
			m=audio 7000 RTP/AVP 8
			a=recvonly`),
			want: Media{Remote: netip.MustParseAddrPort("127.0.0.3:7000"), PayloadType: 8, Codec: 8, Direction: RecvOnly, Ptime: 20}},
		{name: "answer refuses audio", answer: crlf(`
			v=0
			o=- 1 2 IN IP4 127.0.0.3
			s=-
			c=IN IP4 127.0.0.3
			t=0 0
			m=audio 0 RTP/AVP 0`), wantErr: ErrNoCommonCodec},
		{name: "garbage", answer: []byte("v=0\r\nzzz"), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseAnswer(tt.answer, local)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseAnswer() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || m != tt.want {
				t.Errorf("ParseAnswer() = %+v, %v, want %+v, nil", m, err, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{ErrNoCommonCodec, 488},
		{ErrMalformed, 400},
		{errors.New("other"), 500},
	}
	for _, tt := range tests {
		if got, _ := Status(tt.err); got != tt.want {
			t.Errorf("Status(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		d       Direction
		s       string
		reverse Direction
	}{
		{SendRecv, "sendrecv", SendRecv},
		{SendOnly, "sendonly", RecvOnly},
		{RecvOnly, "recvonly", SendOnly},
		{Inactive, "inactive", Inactive},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.s {
			t.Errorf("Direction(%d).String() = %q, want %q", tt.d, got, tt.s)
		}
		if got := tt.d.Reverse(); got != tt.reverse {
			t.Errorf("%v.Reverse() = %v, want %v", tt.d, got, tt.reverse)
		}
	}
}

func BenchmarkNegotiate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Negotiate(offerLinphone, local); err != nil {
			b.Fatal(err)
		}
	}
}
