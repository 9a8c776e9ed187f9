package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// TestTLSBaresipAgent: a real softphone (baresip, srtp module) registers
// over TLS with SRTP mandatory; a caller over TLS with SRTP presses 0 and
// is bridged to it: the gateway calls baresip back on its TLS connection
// with SDES, and audio crosses the bridge both ways, decrypted with one
// leg's keys and encrypted with the other's.
func TestTLSBaresipAgent(t *testing.T) {
	bin, err := exec.LookPath("baresip")
	if err != nil {
		if os.Getenv("IVRGW_REQUIRE_BARESIP") == "1" {
			t.Fatalf("baresip not on PATH and IVRGW_REQUIRE_BARESIP=1: %v", err)
		}
		t.Skip("baresip not on PATH (apt-get install baresip-core); set IVRGW_REQUIRE_BARESIP=1 to fail instead")
	}
	g, tlsAddr, client, certFile := startTLSGatewayCert(t, "required", "-digest-algorithms", "MD5")
	agent := baresipStartTLS(t, bin, tlsAddr, certFile)

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := baresipWaitState(ctx, g, baresipExt, "available"); err != nil {
		t.Fatalf("agent %s never became available: %v\nbaresip log:\n%s", baresipExt, err, agent.Log())
	}
	if line, err := g.waitLog(ctx, "agent registered", "ext="+baresipExt); err != nil {
		t.Fatal(err)
	} else if !strings.Contains(line, "transport=TLS") {
		t.Errorf("registration log = %q, want transport=TLS", line)
	}

	nEvents := agent.eventCount()
	c, err := testphone.Dial(ctx, testphone.Config{Target: tlsAddr, Transport: "tls", TLS: client, SRTP: true,
		From: "erin", To: "support", Codecs: []uint8{0}})
	if err != nil {
		t.Fatalf("Dial(tls, srtp) error = %v", err)
	}
	defer c.Close()
	if err := c.WaitForSpeech(ctx, 500*time.Millisecond); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if err := c.SendDigit4733('0', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.waitEvent(ctx, nEvents, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("baresip did not answer: %v\nbaresip log:\n%s", err, agent.Log())
	}
	line, err := g.waitLog(ctx, "caller bridged to agent", "agent="+baresipExt, "call_id="+c.CallID())
	if err != nil {
		t.Fatal(err)
	}
	bridged := time.Now()
	if !strings.Contains(line, "agent_srtp=true") {
		t.Errorf("bridge log = %q, want agent_srtp=true", line)
	}
	if err := c.SendTone(baresipCallerToneHz, 2*time.Second); err != nil {
		t.Fatalf("SendTone: %v", err)
	}
	run, share := baresipToneRun(c.AudioSince(bridged), baresipToneHz)
	t.Logf("caller heard %d Hz from baresip for %v (best share %.2f)", baresipToneHz, run, share)
	if run < time.Second {
		t.Errorf("caller heard %d Hz for %v (best share %.2f), want at least 1s: baresip's SRTP did not cross the bridge", baresipToneHz, run, share)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	if _, err := agent.waitEvent(ctx, nEvents, "CALL_CLOSED"); err != nil {
		t.Fatalf("baresip's call did not end after the caller's BYE (sent on its TLS connection): %v\nbaresip log:\n%s", err, agent.Log())
	}
	pcm, path, err := agent.recording()
	if err != nil {
		t.Fatalf("baresip's recording: %v", err)
	}
	run, share = baresipToneRun(pcm, baresipCallerToneHz)
	t.Logf("baresip heard %d Hz from the caller for %v (best share %.2f) in %s", baresipCallerToneHz, run, share, filepath.Base(path))
	if run < time.Second {
		t.Errorf("baresip heard %d Hz for %v (best share %.2f), want at least 1s: the caller's SRTP did not cross the bridge", baresipCallerToneHz, run, share)
	}
}

// baresipStartTLS starts baresip as agent 1002 registering over TLS to
// registrar with SRTP mandatory (RTP/SAVP, SDES), trusting caFile. The
// settings are baresipStart's plus the srtp module and the TLS account.
func baresipStartTLS(t *testing.T, bin, registrar, caFile string) *baresipProc {
	t.Helper()
	dir := t.TempDir()
	sipPort := baresipPorts(t)
	ctrlPort := freePort(t)
	for ctrlPort == sipPort+1 {
		ctrlPort = freePort(t)
	}
	rtpBase := 50000 + (freePort(t)%500)*20
	tone := filepath.Join(dir, "tone.wav")
	if err := os.WriteFile(tone, baresipWAV(testphone.Sine(baresipToneHz, 8000, 30*time.Second)), 0o644); err != nil {
		t.Fatal(err)
	}
	config := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:" + strconv.Itoa(sipPort),
		"sip_cafile " + caFile,
		"net_interface 127.0.0.1",
		"audio_player alsa,null",
		"audio_source aufile," + tone,
		"audio_alert alsa,null",
		fmt.Sprintf("rtp_ports %d-%d", rtpBase, rtpBase+19),
		"module_path /usr/lib/baresip/modules",
		"module g711.so",
		"module aufile.so",
		"module alsa.so",
		"module sndfile.so",
		"module srtp.so",
		"module_tmp uuid.so",
		"module_tmp account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen 127.0.0.1:" + strconv.Itoa(ctrlPort),
		"snd_path " + dir,
		"",
	}, "\n")
	account := fmt.Sprintf("<sip:%s@%s;transport=tls>;auth_pass=%s;answermode=auto;audio_codecs=PCMU,PCMA;ptime=20;regint=300;mediaenc=srtp-mand\n",
		baresipExt, registrar, baresipPassword)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &baresipProc{t: t, dir: dir, waitErr: make(chan error, 1), resps: map[string]baresipMessage{}}
	p.cmd = exec.Command(bin, "-f", dir, "-v")
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start baresip: %v", err)
	}
	go func() { p.waitErr <- p.cmd.Wait() }()
	t.Cleanup(p.stop)
	p.connectCtrl(t, ctrlPort)
	return p
}

// connectCtrl waits (bounded) for baresip's ctrl_tcp, which comes up after
// the accounts are loaded, and starts reading it.
func (p *baresipProc) connectCtrl(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			p.ctrl = conn
			break
		}
		select {
		case err := <-p.waitErr:
			t.Fatalf("baresip exited at start: %v\n%s", err, p.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip ctrl_tcp not up after 10 s\n%s", p.Log())
		}
	}
	go p.read()
}
