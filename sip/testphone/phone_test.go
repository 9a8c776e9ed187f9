package testphone

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/media/g711"
	"github.com/ivrgw/ivrgw/sip/testphone/fakeuas"
)

// dumpSIP prints the phone's SIP log when a test fails.
func dumpSIP(t *testing.T, log func() []string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("SIP log:\n%s", strings.Join(log(), "\n----\n"))
		}
	})
}

func findMsg(msgs []string, prefix string) string {
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			return m
		}
	}
	return ""
}

// TestPhoneAgainstFakeUAS places calls to a minimal UDP UAS and checks
// what goes on the wire: the SDP offer, the ACK, the pacing of the
// phone's RTP, the RFC 4733 packet layout, INFO, hold and both hang-ups.
func TestPhoneAgainstFakeUAS(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		fake      fakeuas.Config
		wantCodec uint8
		wantErr   int // expected StatusError code; 0 = answered
		cancel    bool
		remoteBye bool
	}{
		{name: "pcmu default", cfg: Config{From: "alice", DisplayName: "Alice A", To: "support"}, wantCodec: 0},
		{name: "pcma first with event pt 96", cfg: Config{From: "bob", To: "sales", Codecs: []uint8{8, 0}, EventPT: 96}, wantCodec: 8},
		{name: "delayed offer", cfg: Config{From: "carol", To: "support", NoSDP: true}, wantCodec: 0, remoteBye: true},
		{name: "tcp", cfg: Config{Transport: "tcp", From: "dave", To: "support"}, wantCodec: 0, remoteBye: true},
		{name: "tcp local hangup", cfg: Config{Transport: "tcp", To: "support", Codecs: []uint8{8}}, wantCodec: 8},
		{name: "rejected busy", cfg: Config{To: "support"}, fake: fakeuas.Config{Reject: 486}, wantErr: 486},
		{name: "cancel while ringing", cfg: Config{To: "support"}, fake: fakeuas.Config{RingFor: 10 * time.Second}, wantErr: 487, cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			uas, err := fakeuas.Start(tt.fake)
			if err != nil {
				t.Fatal(err)
			}
			defer uas.Close()
			cfg := tt.cfg
			cfg.Target = uas.Addr()
			var heard, wrongPT atomic.Int64
			cfg.OnAudio = func(_ time.Time, pt uint8, payload []byte) {
				if pt != g711.PayloadPCMU && pt != g711.PayloadPCMA || len(payload) != 160 {
					wrongPT.Add(1)
				}
				heard.Add(1)
			}

			p, err := DialAsync(ctx, cfg)
			if err != nil {
				t.Fatalf("DialAsync() error = %v", err)
			}
			dumpSIP(t, p.SIPLog)
			if tt.cancel {
				select {
				case <-p.Ringing():
				case <-ctx.Done():
					t.Fatal("no 180 before timeout")
				}
				p.Cancel()
			}
			call, err := p.Wait()
			if tt.wantErr != 0 {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tt.wantErr {
					t.Fatalf("Dial() error = %v, want StatusError %d", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial() error = %v", err)
			}
			defer call.Close()
			fc, err := uas.WaitCall(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			<-fc.Started()

			checkOffer(t, cfg, call, fc)
			if m := call.Media(); m.Codec != tt.wantCodec || !m.HasEvents || int(m.EventPT) != fc.EventPT() {
				t.Errorf("Media() = %+v, want codec %d and event pt %d", m, tt.wantCodec, fc.EventPT())
			}

			// The fake's swelling tone must be heard as speech.
			if err := call.WaitForSpeech(ctx, 300*time.Millisecond); err != nil {
				t.Errorf("WaitForSpeech() = %v, want nil", err)
			}

			before := time.Now()
			sent, err := call.SendDigit4733Timed('5', 100*time.Millisecond)
			if err != nil {
				t.Fatalf("SendDigit4733Timed() = %v", err)
			}
			time.Sleep(100 * time.Millisecond) // let a few audio frames follow the event
			checkRTP(t, fc.Packets(), tt.wantCodec, uint8(fc.EventPT()))
			// The time returned is the first event packet's: after the
			// call began, before that packet reached the fake, and one
			// event (100 ms plus three end packets) before the return.
			for _, p := range fc.Packets() {
				if p.Header.PayloadType == uint8(fc.EventPT()) && p.Arrival.After(before) {
					if sent.Before(before) || sent.After(p.Arrival) {
						t.Errorf("SendDigit4733Timed() sent at %v, want in [%v, %v]", sent, before, p.Arrival)
					}
					break
				}
			}

			// In-band: the two tones of '9' (852 + 1477 Hz) in the audio.
			n0 := len(fc.Packets())
			if err := call.SendDigitInband('9', 200*time.Millisecond); err != nil {
				t.Fatalf("SendDigitInband() = %v", err)
			}
			time.Sleep(40 * time.Millisecond)
			var tone []int16
			for _, p := range fc.Packets()[n0:] {
				frame := g711.Decode(make([]int16, len(p.Payload)), p.Payload, tt.wantCodec)
				if p.Header.PayloadType == tt.wantCodec && RMS(frame) > 1000 {
					tone = append(tone, frame...)
				}
			}
			if len(tone) != 1600 {
				t.Errorf("in-band digit samples = %d, want 1600 (200 ms)", len(tone))
			}
			for _, f := range []float64{852, 1477} {
				if got := DetectTone(tone, f); got < 0.45 {
					t.Errorf("DetectTone(in-band '9', %v) = %.3f, want ≥ 0.45", f, got)
				}
			}

			// OnAudio saw every audio packet the phone recorded, and only those.
			audio := 0
			for _, p := range call.Received() {
				if p.PT == g711.PayloadPCMU || p.PT == g711.PayloadPCMA {
					audio++
				}
			}
			if n := heard.Load(); n < int64(audio) || n == 0 || wrongPT.Load() != 0 {
				t.Errorf("OnAudio saw %d packets (%d not 160-byte G.711), want at least the %d recorded", n, wrongPT.Load(), audio)
			}

			if err := call.SendDigitINFO(ctx, '7'); err != nil {
				t.Errorf("SendDigitINFO() = %v, want nil", err)
			}
			if info := findMsg(fc.Messages(), "INFO "); !strings.Contains(info, "application/dtmf-relay") || !strings.Contains(info, "Signal=7\r\n") {
				t.Errorf("INFO sent = %q, want dtmf-relay with Signal=7", info)
			}
			if err := call.Hold(ctx); err != nil {
				t.Errorf("Hold() = %v, want nil", err)
			}
			var reinv string
			for _, m := range fc.Messages()[1:] {
				if strings.HasPrefix(m, "INVITE ") {
					reinv = m
				}
			}
			if !strings.Contains(reinv, "a=sendonly") || !strings.Contains(reinv, ";tag=") {
				t.Errorf("re-INVITE sent = %q, want in-dialog with a=sendonly", reinv)
			}

			if tt.remoteBye {
				code, err := uas.Hangup(fc)
				if err != nil || code != 200 {
					t.Fatalf("fake BYE answered %d, %v, want 200", code, err)
				}
				if err := call.WaitHangup(ctx); err != nil {
					t.Errorf("WaitHangup() = %v, want nil", err)
				}
				return
			}
			if err := call.Hangup(ctx); err != nil {
				t.Errorf("Hangup() = %v, want nil", err)
			}
			if findMsg(fc.Messages(), "BYE ") == "" {
				t.Error("fake received no BYE after Hangup")
			}
		})
	}
}

// checkOffer checks the INVITE's SDP (or, for a delayed offer, the ACK's).
func checkOffer(t *testing.T, cfg Config, call *Call, fc *fakeuas.Call) {
	t.Helper()
	msgs := fc.Messages()
	inv, ack := findMsg(msgs, "INVITE "), findMsg(msgs, "ACK ")
	if ack == "" {
		t.Fatal("fake received no ACK")
	}
	body := inv
	if cfg.NoSDP {
		if strings.Contains(inv, "m=audio") {
			t.Errorf("delayed-offer INVITE carries SDP:\n%s", inv)
		}
		body = ack
	}
	codecs := cfg.Codecs
	if codecs == nil {
		codecs = []uint8{0, 8}
	}
	ev := cfg.EventPT
	if ev == 0 {
		ev = 101
	}
	var want []string
	if cfg.NoSDP {
		// The answer in the ACK keeps the codec chosen and mirrors the
		// offered event PT (the fake offers 0 8 101).
		want = []string{fmt.Sprintf("m=audio %d RTP/AVP 0 101\r\n", call.LocalRTP().Port()), "a=rtpmap:101 telephone-event/8000\r\n"}
	} else {
		m := fmt.Sprintf("m=audio %d RTP/AVP", call.LocalRTP().Port())
		for _, c := range codecs {
			m += fmt.Sprintf(" %d", c)
		}
		want = []string{m + fmt.Sprintf(" %d\r\n", ev), fmt.Sprintf("a=rtpmap:%d telephone-event/8000\r\n", ev), fmt.Sprintf("a=fmtp:%d 0-16\r\n", ev)}
	}
	want = append(want, "c=IN IP4 127.0.0.1\r\n", "a=ptime:20\r\n", "a=sendrecv\r\n", "Content-Type: application/sdp")
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("offer/answer = %q, want it to contain %q", body, w)
		}
	}
	if cfg.DisplayName != "" && !strings.Contains(inv, `"`+cfg.DisplayName+`" <sip:`+cfg.From+"@") {
		t.Errorf("INVITE From lacks display name %q:\n%s", cfg.DisplayName, inv)
	}
	// The Contact must name the phone's own listening socket, which is also
	// where its requests come from (FACTS.md: sipgo's random-port trap).
	if !strings.Contains(inv, "Contact: <sip:") || !strings.Contains(ack, "CSeq: ") {
		t.Errorf("INVITE/ACK lack Contact or CSeq:\n%s\n%s", inv, ack)
	}
}

// checkRTP checks the phone's stream as the fake received it: 20 ms pacing
// (timestamp +160, sequence +1), and the RFC 4733 event layout.
func checkRTP(t *testing.T, pkts []fakeuas.Packet, codec, eventPT uint8) {
	t.Helper()
	if len(pkts) < 20 {
		t.Fatalf("fake received %d RTP packets, want at least 20", len(pkts))
	}
	var ev []fakeuas.Packet
	firstEv := -1
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1].Header, pkts[i].Header
		if b.SequenceNumber != a.SequenceNumber+1 {
			t.Errorf("packet %d seq = %d, want %d", i, b.SequenceNumber, a.SequenceNumber+1)
		}
		if b.SSRC != a.SSRC {
			t.Errorf("packet %d SSRC = %x, want %x", i, b.SSRC, a.SSRC)
		}
		if a.PayloadType == codec && b.PayloadType == codec && b.Timestamp != a.Timestamp+160 {
			t.Errorf("packet %d ts = %d, want %d", i, b.Timestamp, a.Timestamp+160)
		}
		if b.PayloadType == eventPT {
			if firstEv < 0 {
				firstEv = i
			}
			ev = append(ev, pkts[i])
		}
	}
	span := pkts[len(pkts)-1].Arrival.Sub(pkts[0].Arrival)
	if per := span / time.Duration(len(pkts)-1); per < 17*time.Millisecond || per > 25*time.Millisecond {
		// Loose: the box may be loaded; the timestamps above are exact.
		t.Errorf("mean packet interval = %v, want 17-25ms", per)
	}
	// 100 ms = 5 packets with durations 160..800, then 3 end packets.
	if len(ev) != 8 {
		t.Fatalf("event packets = %d, want 8 (5 + 3 end)", len(ev))
	}
	for i, p := range ev {
		wantDur := uint16(min(i+1, 5) * 160)
		gotDur := uint16(p.Payload[2])<<8 | uint16(p.Payload[3])
		end := p.Payload[1]&0x80 != 0
		if p.Header.Marker != (i == 0) || p.Header.Timestamp != ev[0].Header.Timestamp ||
			p.Payload[0] != 5 || gotDur != wantDur || end != (i >= 5) {
			t.Errorf("event packet %d = marker %v ts %d event %d dur %d end %v, want marker %v ts %d event 5 dur %d end %v",
				i, p.Header.Marker, p.Header.Timestamp, p.Payload[0], gotDur, end, i == 0, ev[0].Header.Timestamp, wantDur, i >= 5)
		}
	}
	// Audio resumes with a timestamp that jumped over the event: the
	// event started at the slot after the previous audio packet.
	before, after := pkts[firstEv-1].Header, pkts[firstEv+len(ev)].Header
	if after.PayloadType != codec || after.Timestamp != before.Timestamp+160*9 || ev[0].Header.Timestamp != before.Timestamp+160 {
		t.Errorf("audio around event: before ts %d, event ts %d, after pt %d ts %d; want event ts %d, after ts %d",
			before.Timestamp, ev[0].Header.Timestamp, after.PayloadType, after.Timestamp, before.Timestamp+160, before.Timestamp+160*9)
	}
}

// TestGeneratorsAndDetectors checks the tone generators with Goertzel, both
// directly and after a trip through either G.711 law, and the speech
// detector on synthetic frames.
func TestGeneratorsAndDetectors(t *testing.T) {
	rows := []float64{697, 770, 852, 941}
	cols := []float64{1209, 1336, 1477, 1633}
	for _, d := range []byte("0123456789*#ABCD") {
		for _, law := range []uint8{g711.PayloadPCMU, g711.PayloadPCMA} {
			t.Run(fmt.Sprintf("dtmf %c law %d", d, law), func(t *testing.T) {
				pcm, err := DTMFTone(d, 100*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				pcm = g711.Decode(make([]int16, len(pcm)), encode(pcm, law), law)
				lo, hi, _ := dtmfPair(d)
				for _, f := range slices.Concat(rows, cols) {
					got := DetectTone(pcm, f)
					want := 0.5
					if f != lo && f != hi {
						want = 0
					}
					if math.Abs(got-want) > 0.05 {
						t.Errorf("DetectTone(DTMF %c, %v) = %.3f, want %.1f±0.05", d, f, got, want)
					}
				}
				// Each tone at -10 dBFS: RMS of the pair = 2 × (peak/√2)² under the root.
				if got, want := RMS(pcm), toneLevel; math.Abs(got-want)/want > 0.05 {
					t.Errorf("RMS(DTMF %c) = %.0f, want %.0f±5%%", d, got, want)
				}
			})
		}
	}
	for _, f := range []float64{400, 1000, 3000} {
		pcm := Sine(f, toneLevel, 200*time.Millisecond)
		if got := DetectTone(pcm, f); got < 0.95 {
			t.Errorf("DetectTone(Sine(%v), %v) = %.3f, want ≥ 0.95", f, f, got)
		}
		if got := DetectTone(pcm, f+200); got > 0.05 {
			t.Errorf("DetectTone(Sine(%v), %v) = %.3f, want ≤ 0.05", f, f+200, got)
		}
	}
	if _, err := DTMFTone('x', time.Second); !errors.Is(err, ErrBadDigit) {
		t.Errorf("DTMFTone('x') error = %v, want ErrBadDigit", err)
	}

	speech := []struct {
		name   string
		levels func(i int) float64
		want   bool
	}{
		{"steady tone", func(int) float64 { return 5000 }, false},
		{"silence", func(int) float64 { return 0 }, false},
		{"syllables", func(i int) float64 { return 3000 + 2500*math.Sin(float64(i)/2) }, true},
		{"words with short pauses", func(i int) float64 {
			if i%15 < 3 {
				return 0
			}
			return 1000 + float64(i%7)*800
		}, true},
		{"blips with long pauses", func(i int) float64 {
			if i%30 < 20 {
				return 0
			}
			return 1000 + float64(i%7)*800
		}, false},
	}
	for _, tt := range speech {
		t.Run("speech "+tt.name, func(t *testing.T) {
			run := &speechRun{need: 25} // 500 ms
			got := false
			for i := 0; i < 200 && !got; i++ {
				got = run.feed(frameStat{at: time.Unix(0, 0), rms: tt.levels(i)})
			}
			if got != tt.want {
				t.Errorf("speech detected in %q = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func encode(pcm []int16, law uint8) []byte {
	if law == g711.PayloadPCMA {
		return g711.EncodeALaw(make([]byte, len(pcm)), pcm)
	}
	return g711.EncodeULaw(make([]byte, len(pcm)), pcm)
}
