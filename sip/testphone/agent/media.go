package agent

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Media is what was negotiated for one call.
type Media struct {
	Remote    netip.AddrPort // where our RTP goes
	Codec     uint8          // 0 PCMU or 8 PCMA
	EventPT   uint8          // telephone-event payload type, valid when HasEvents
	HasEvents bool
}

// Packet is one RTP packet the agent received.
type Packet struct {
	Arrival   time.Time
	Source    netip.AddrPort
	PT        uint8
	Seq       uint16
	Timestamp uint32
	SSRC      uint32
	Marker    bool
	Len       int // payload bytes
	// Event and End are the RFC 4733 event code and E bit of a 4-byte
	// payload that is not G.711 (telephone-event, §2.3).
	Event uint8
	End   bool
}

const (
	frameSamples = 160 // 20 ms at 8 kHz (RFC 3551 §4.5.14)
	framePeriod  = 20 * time.Millisecond
	sampleRate   = 8000
)

// toneAmp is -10 dBFS, the level the test phone sends its tones at.
var toneAmp = 32767 * math.Pow(10, -10.0/20)

// sdpOffer is the relevant part of a remote offer or answer.
type sdpOffer struct {
	addr      netip.AddrPort
	formats   []uint8 // audio formats in the remote's order, events excluded
	eventPT   uint8
	hasEvents bool
}

var errNoCodec = errors.New("no common codec")

// parseSDP reads the first audio m-line.
func parseSDP(body []byte) (sdpOffer, error) {
	var o sdpOffer
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return o, fmt.Errorf("parse sdp: %w", err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			md = m
			break
		}
	}
	if md == nil || md.MediaName.Port.Value <= 0 || md.MediaName.Port.Value > 65535 {
		return o, errors.New("parse sdp: no usable audio m-line")
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return o, errors.New("parse sdp: no c= line")
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return o, fmt.Errorf("parse sdp: c= address: %w", err)
	}
	o.addr = netip.AddrPortFrom(ip.Unmap(), uint16(md.MediaName.Port.Value))
	events := map[uint8]bool{}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, rest, ok := strings.Cut(a.Value, " ")
		n, err := strconv.ParseUint(pt, 10, 8)
		if ok && err == nil && strings.HasPrefix(strings.ToLower(rest), "telephone-event/") {
			events[uint8(n)] = true
		}
	}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			continue
		}
		if events[uint8(n)] {
			if !o.hasEvents {
				o.eventPT, o.hasEvents = uint8(n), true
			}
			continue
		}
		o.formats = append(o.formats, uint8(n))
	}
	return o, nil
}

// choose takes the first G.711 law of the remote's list: in an offer that
// honours the offerer's preference (RFC 3264 §6.1), in an answer it is the
// answerer's choice.
func (o sdpOffer) choose() (Media, error) {
	for _, f := range o.formats {
		if f == g711.PayloadPCMU || f == g711.PayloadPCMA {
			return Media{Remote: o.addr, Codec: f, EventPT: o.eventPT, HasEvents: o.hasEvents}, nil
		}
	}
	return Media{}, fmt.Errorf("remote formats %v: %w", o.formats, errNoCodec)
}

func codecName(pt uint8) string {
	if pt == g711.PayloadPCMA {
		return "PCMA"
	}
	return "PCMU"
}

// writeSDP writes a small SDP: codecs in order, telephone-event at
// eventPT when events is set (mirrored from the offer, RFC 4733 §7.1.1).
func writeSDP(local netip.AddrPort, codecs []uint8, eventPT uint8, events bool) []byte {
	var b strings.Builder
	id := rand.Uint64N(1 << 62)
	fmt.Fprintf(&b, "v=0\r\no=fake-agent %d 1 IN IP4 %s\r\ns=fake-agent\r\nc=IN IP4 %s\r\nt=0 0\r\n",
		id, local.Addr(), local.Addr())
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", local.Port())
	for _, c := range codecs {
		fmt.Fprintf(&b, " %d", c)
	}
	if events {
		fmt.Fprintf(&b, " %d", eventPT)
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", c, codecName(c))
	}
	if events {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", eventPT, eventPT)
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}

// rtpLeg is one call's RTP socket: a reader that records everything and a
// paced sender that starts once the call is answered.
type rtpLeg struct {
	conn    *net.UDPConn
	discard bool // keep counts only (Config.DiscardMedia)

	mu       sync.Mutex
	media    Media
	packets  []Packet
	audio    []int16
	frames   []time.Time // arrival of each received packet's audio, per 160 samples
	bad      int
	received int

	stopSend chan struct{}
	sendOnce sync.Once
	stopOnce sync.Once
	wg       sync.WaitGroup
	sent     int
}

func newRTPLeg(ip string, discard bool) (*rtpLeg, error) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return nil, fmt.Errorf("rtp: local ip: %w", err)
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	if err != nil {
		return nil, fmt.Errorf("listen rtp: %w", err)
	}
	l := &rtpLeg{conn: conn, discard: discard, stopSend: make(chan struct{})}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.read() }()
	return l, nil
}

func (l *rtpLeg) local() netip.AddrPort { return l.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (l *rtpLeg) setMedia(m Media) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.media = m
}

// read records every packet until the socket is closed. Audio payloads
// are decoded and appended in arrival order.
func (l *rtpLeg) read() {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		at := time.Now()
		if err := p.Unmarshal(buf[:n]); err != nil {
			l.mu.Lock()
			l.bad++
			l.mu.Unlock()
			continue
		}
		l.mu.Lock()
		l.received++
		if l.discard {
			l.mu.Unlock()
			continue
		}
		pk := Packet{Arrival: at, Source: src, PT: p.PayloadType, Seq: p.SequenceNumber,
			Timestamp: p.Timestamp, SSRC: p.SSRC, Marker: p.Marker, Len: len(p.Payload)}
		if p.PayloadType != g711.PayloadPCMU && p.PayloadType != g711.PayloadPCMA && len(p.Payload) == 4 {
			pk.Event, pk.End = p.Payload[0], p.Payload[1]&0x80 != 0
		}
		l.packets = append(l.packets, pk)
		if p.PayloadType == g711.PayloadPCMU || p.PayloadType == g711.PayloadPCMA {
			k := len(l.audio)
			l.audio = append(l.audio, make([]int16, len(p.Payload))...)
			g711.Decode(l.audio[k:], p.Payload, p.PayloadType)
			for len(l.frames)*frameSamples < len(l.audio) {
				l.frames = append(l.frames, at)
			}
		}
		l.mu.Unlock()
	}
}

// startSending starts the paced sender: one packet every 20 ms on absolute
// deadlines, a continuous sine at toneHz (phase kept across frames) or
// silence. It runs until stop.
func (l *rtpLeg) startSending(toneHz float64) {
	l.sendOnce.Do(func() {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.send(toneHz) }()
	})
}

func (l *rtpLeg) send(toneHz float64) {
	l.mu.Lock()
	m := l.media
	l.mu.Unlock()
	if !m.Remote.IsValid() || m.Remote.Port() == 0 || m.Remote.Addr().IsUnspecified() {
		return
	}
	// RFC 3550 §5.1: random initial sequence number and timestamp.
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: m.Codec, SSRC: rand.Uint32(),
		SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(), Marker: true}}
	var pcm [frameSamples]int16
	var payload [frameSamples]byte
	buf := make([]byte, 1500)
	w := 2 * math.Pi * toneHz / sampleRate
	var n int64 // samples sent: the sine's phase
	// A tone with a whole number of periods per frame (400 Hz: 8) repeats
	// every frame: encode it once.
	periodic := toneHz > 0 && math.Mod(toneHz*frameSamples, sampleRate) == 0
	encoded := false
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-l.stopSend:
			return
		case <-timer.C:
		}
		if !encoded {
			for i := range pcm {
				if toneHz > 0 {
					pcm[i] = int16(math.Round(toneAmp * math.Sin(w*float64(n+int64(i)))))
				} else {
					pcm[i] = 0
				}
			}
			if m.Codec == g711.PayloadPCMA {
				pkt.Payload = g711.EncodeALaw(payload[:], pcm[:])
			} else {
				pkt.Payload = g711.EncodeULaw(payload[:], pcm[:])
			}
			encoded = periodic || toneHz == 0
		}
		n += frameSamples
		if k, err := pkt.MarshalTo(buf); err == nil {
			if _, err := l.conn.WriteToUDPAddrPort(buf[:k], m.Remote); err == nil {
				l.mu.Lock()
				l.sent++
				l.mu.Unlock()
			}
		}
		pkt.Marker = false
		pkt.SequenceNumber++
		pkt.Timestamp += frameSamples
		next = next.Add(framePeriod)
		now := time.Now()
		if now.Sub(next) > 10*framePeriod {
			next = now // a long stall restarts the schedule instead of bursting
		}
		timer.Reset(next.Sub(now))
	}
}

// stop ends sending and reading and waits for both goroutines.
func (l *rtpLeg) stop() {
	l.stopSending()
	l.stopOnce.Do(func() {
		l.conn.Close()
		l.wg.Wait()
	})
}

// stopSending ends only the sender (the call ended; records stay).
func (l *rtpLeg) stopSending() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.stopSend:
	default:
		close(l.stopSend)
	}
}
