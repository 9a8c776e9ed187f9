package agent

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// fakeRegistrar challenges every REGISTER without valid credentials with a
// SHA-256 and an MD5 challenge (RFC 8760 §2.4 order) and records what it
// accepted. It checks the digest with icholy/digest, not with the agent's
// code.
type fakeRegistrar struct {
	addr  string
	realm string
	pass  string

	mu       sync.Mutex
	accepted []fakeReg
}

type fakeReg struct {
	expires   string
	contact   string
	algorithm string
	nc        int
}

func startFakeRegistrar(t *testing.T, pass string) *fakeRegistrar {
	t.Helper()
	f := &fakeRegistrar{realm: "test", pass: pass}
	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = pc.LocalAddr().String()
	srv.OnRegister(f.serve)
	go func() { _ = srv.ServeUDP(pc) }()
	t.Cleanup(func() { ua.Close(); pc.Close() })
	return f
}

func (f *fakeRegistrar) serve(req *sip.Request, tx sip.ServerTransaction) {
	if h := req.GetHeader("Authorization"); h != nil {
		cred, err := digest.ParseCredentials(h.Value())
		if err == nil {
			chal := &digest.Challenge{Realm: f.realm, Nonce: "n0nce", Opaque: "op", Algorithm: cred.Algorithm, QOP: []string{"auth"}}
			want, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: cred.URI, Username: cred.Username,
				Password: f.pass, Count: cred.Nc, Cnonce: cred.Cnonce})
			if err == nil && want.Response == cred.Response && cred.URI == req.Recipient.String() {
				reg := fakeReg{algorithm: cred.Algorithm, nc: cred.Nc}
				if e := req.GetHeader("Expires"); e != nil {
					reg.expires = e.Value()
				}
				if c := req.Contact(); c != nil {
					reg.contact = c.Address.String()
				}
				f.mu.Lock()
				f.accepted = append(f.accepted, reg)
				f.mu.Unlock()
				res := sip.NewResponseFromRequest(req, 200, "OK", nil)
				if c := req.Contact(); c != nil {
					echo := &sip.ContactHeader{Address: c.Address}
					echo.Params = echo.Params.Add("expires", reg.expires)
					res.AppendHeader(echo)
				}
				_ = tx.Respond(res)
				return
			}
		}
	}
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	for _, alg := range []string{"SHA-256", "MD5"} {
		c := digest.Challenge{Realm: f.realm, Nonce: "n0nce", Opaque: "op", Algorithm: alg, QOP: []string{"auth"}}
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", c.String()))
	}
	_ = tx.Respond(res)
}

func (f *fakeRegistrar) regs() []fakeReg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReg(nil), f.accepted...)
}

func TestRegisterDigest(t *testing.T) {
	tests := []struct {
		name, algorithm, wantAlg string
		password                 string
		wantErr                  bool
	}{
		{"preferred-first", "", "SHA-256", "secret", false},
		{"forced-md5", "MD5", "MD5", "secret", false},
		{"wrong-password", "", "", "wrong", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			f := startFakeRegistrar(t, "secret")
			a, err := Start(ctx, Config{Gateway: f.addr, Ext: "1002", Password: tt.password, Algorithm: tt.algorithm, Expires: 120 * time.Second})
			if tt.wantErr {
				var se *StatusError
				if !errors.As(err, &se) || se.Code != 401 {
					t.Fatalf("Start with a wrong password = %v, want a 401 StatusError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			if got := a.Algorithm(); got != tt.wantAlg {
				t.Errorf("Algorithm() = %q, want %q", got, tt.wantAlg)
			}
			if got := a.Granted(); got != 120*time.Second {
				t.Errorf("Granted() = %v, want 120s", got)
			}
			// A refresh reuses the challenge with the next nonce-count.
			if err := a.Register(ctx); err != nil {
				t.Fatalf("Register = %v", err)
			}
			if err := a.Close(); err != nil {
				t.Fatalf("Close = %v", err)
			}
			regs := f.regs()
			if len(regs) != 3 {
				t.Fatalf("registrar accepted %d REGISTERs, want 3 (register, refresh, unregister): %+v", len(regs), regs)
			}
			want := []fakeReg{
				{expires: "120", contact: a.Contact(), algorithm: tt.wantAlg, nc: 1},
				{expires: "120", contact: a.Contact(), algorithm: tt.wantAlg, nc: 2},
				{expires: "0", contact: a.Contact(), algorithm: tt.wantAlg, nc: 3},
			}
			for i := range want {
				if regs[i] != want[i] {
					t.Errorf("REGISTER %d = %+v, want %+v", i, regs[i], want[i])
				}
			}
			if !strings.HasPrefix(a.Contact(), "sip:1002@127.0.0.1:") {
				t.Errorf("Contact() = %q, want sip:1002@127.0.0.1:PORT", a.Contact())
			}
		})
	}
}

// startAgent registers an agent at a fake registrar; test phones then call
// it directly at its socket.
func startAgent(t *testing.T, mode Mode, answerAfter time.Duration) *Agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f := startFakeRegistrar(t, "pw")
	a, err := Start(ctx, Config{Gateway: f.addr, Ext: "1002", Password: "pw", Mode: mode, AnswerAfter: answerAfter, Tone: 700})
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func waitTone(ctx context.Context, audio func() []int16, hz float64) error {
	for {
		if au := audio(); len(au) >= 2400 {
			w := au[len(au)-2400:]
			if testphone.DetectTone(w, hz) > 0.8 && testphone.RMS(w) > 1000 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestAnswerBothWays(t *testing.T) {
	for _, codecs := range [][]uint8{{0, 8}, {8, 0}} {
		t.Run(codecName(codecs[0]), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			a := startAgent(t, AutoAnswer, 100*time.Millisecond)
			c, err := testphone.Dial(ctx, testphone.Config{Target: a.Addr().String(), From: "5550100", DisplayName: "Pat",
				To: "1002", Codecs: codecs, EventPT: 96})
			if err != nil {
				t.Fatalf("Dial = %v", err)
			}
			defer c.Close()
			ac, err := a.WaitCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if user, disp := ac.From(); user != "5550100" || disp != "Pat" {
				t.Errorf("From() = %q, %q, want 5550100, Pat", user, disp)
			}
			if m := c.Media(); m.Codec != codecs[0] || m.EventPT != 96 {
				t.Errorf("answer = codec %d event PT %d, want %d (offerer's first) and 96 (mirrored)", m.Codec, m.EventPT, codecs[0])
			}
			if err := waitTone(ctx, c.Audio, 700); err != nil {
				t.Fatalf("phone did not hear the agent's 700 Hz: %v", err)
			}
			go func() { _ = c.SendTone(1000, 2*time.Second) }()
			if err := waitTone(ctx, ac.Audio, 1000); err != nil {
				t.Fatalf("agent did not hear the phone's 1000 Hz: %v", err)
			}
			if err := c.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ac.Done():
			case <-ctx.Done():
				t.Fatal("agent's call not ended by the BYE")
			}
			if ac.EndReason() != EndRemoteBye || ac.Status() != 200 {
				t.Errorf("call ended %q status %d, want %q 200", ac.EndReason(), ac.Status(), EndRemoteBye)
			}
		})
	}
}

func TestAgentHangsUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a := startAgent(t, AutoAnswer, 0)
	c, err := testphone.Dial(ctx, testphone.Config{Target: a.Addr().String(), To: "1002"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ac, err := a.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-ac.Answered()
	if err := ac.Hangup(ctx); err != nil {
		t.Fatalf("Hangup = %v", err)
	}
	if err := c.WaitHangup(ctx); err != nil {
		t.Fatalf("phone got no BYE: %v", err)
	}
	if ac.EndReason() != EndLocalBye {
		t.Errorf("EndReason() = %q, want %q", ac.EndReason(), EndLocalBye)
	}
}

func TestRejectAndNoAnswer(t *testing.T) {
	tests := []struct {
		name       string
		mode       Mode
		cancel     bool
		wantStatus int
	}{
		{"busy", Reject(486), false, 486},
		{"decline", Reject(603), false, 603},
		{"no-answer-cancelled", NoAnswer, true, 487},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			a := startAgent(t, tt.mode, 0)
			p, err := testphone.DialAsync(ctx, testphone.Config{Target: a.Addr().String(), To: "1002"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.cancel {
				select {
				case <-p.Ringing():
				case <-ctx.Done():
					t.Fatal("no 180 Ringing")
				}
				p.Cancel()
			}
			_, err = p.Wait()
			var se *testphone.StatusError
			if !errors.As(err, &se) || se.Code != tt.wantStatus {
				t.Fatalf("Wait() = %v, want status %d", err, tt.wantStatus)
			}
			ac, err := a.WaitCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-ac.Ended():
			case <-ctx.Done():
				t.Fatal("agent's call did not end")
			}
			if ac.Status() != tt.wantStatus || ac.Cancelled() != tt.cancel {
				t.Errorf("agent call status %d cancelled %v, want %d %v", ac.Status(), ac.Cancelled(), tt.wantStatus, tt.cancel)
			}
		})
	}
}

// DiscardMedia: the agent still answers and sends its tone, and counts what
// it receives without keeping it.
func TestDiscardMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	f := startFakeRegistrar(t, "pw")
	a, err := Start(ctx, Config{Gateway: f.addr, Ext: "1002", Password: "pw", Tone: 400, DiscardMedia: true})
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	defer a.Close()
	c, err := testphone.Dial(ctx, testphone.Config{Target: a.Addr().String(), To: "1002"})
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	defer c.Close()
	ac, err := a.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitTone(ctx, c.Audio, 400); err != nil {
		t.Fatalf("phone did not hear the agent's 400 Hz: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := ac.ReceivedPackets(); n < 5 {
		t.Errorf("ReceivedPackets() = %d, want the phone's packets counted", n)
	}
	if p, au := ac.Packets(), ac.Audio(); len(p) != 0 || len(au) != 0 {
		t.Errorf("DiscardMedia kept %d packets and %d samples", len(p), len(au))
	}
}
