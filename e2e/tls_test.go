package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/sip/testphone"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 (IP SAN) and
// its key as PEM files into a temporary directory, and returns the files
// and a client config that trusts exactly that certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ivrgw e2e"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// startTLSGateway runs a gateway that also serves SIP over TLS, with the
// given SRTP policy; it returns the gateway, its TLS address and a client
// config trusting it.
func startTLSGateway(t *testing.T, srtp string, extra ...string) (*gw, string, *tls.Config) {
	g, addr, client, _ := startTLSGatewayCert(t, srtp, extra...)
	return g, addr, client
}

// startTLSGatewayCert is startTLSGateway that also returns the
// certificate's PEM file, for peers that take a CA file.
func startTLSGatewayCert(t *testing.T, srtp string, extra ...string) (*gw, string, *tls.Config, string) {
	t.Helper()
	cert, key, client := selfSigned(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g := startGateway(t, append([]string{"-tls-listen", addr, "-tls-cert", cert, "-tls-key", key, "-srtp", srtp}, extra...)...)
	return g, addr, client, cert
}

// TestTLSSRTPCall calls the real gateway over SIP/TLS with SDES-SRTP
// required: the phone hears the greeting and the main menu decrypted
// sample for sample, presses 1 as an RFC 4733 event inside SRTP, and hears
// the billing menu. Plain offers are refused with 488, over TLS and over
// UDP alike.
func TestTLSSRTPCall(t *testing.T) {
	g, tlsAddr, client := startTLSGateway(t, "required")
	set := promptSet(t)

	t.Run("srtp over tls", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c, err := testphone.Dial(ctx, testphone.Config{Target: tlsAddr, Transport: "tls", TLS: client, SRTP: true,
			From: "alice-tls", To: "support", Codecs: []uint8{0, 8}})
		if err != nil {
			t.Fatalf("Dial(tls, srtp) error = %v", err)
		}
		defer c.Close()
		if m := c.Media(); !m.SRTP {
			t.Fatalf("Media() = %+v, want SRTP", m)
		}
		sig := func(name string) signature { return promptSignature(t, set, "en", name, c.Media().Codec) }
		start := time.Now()
		if err := c.WaitForSpeech(ctx, 500*time.Millisecond); err != nil {
			t.Fatalf("greeting: %v", err)
		}
		for _, p := range []string{"welcome", "main_menu"} {
			if err := waitPrompt(ctx, c, start, sig(p)); err != nil {
				t.Fatal(err)
			}
		}
		t1 := time.Now()
		if err := c.SendDigit4733('1', 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := waitPrompt(ctx, c, t1, sig("billing_menu")); err != nil {
			t.Fatal(err)
		}
		if err := c.Hangup(ctx); err != nil {
			t.Fatalf("Hangup() error = %v, want the BYE answered over TLS", err)
		}
		line, err := g.waitLog(ctx, "call summary", c.CallID())
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"keys=1", "path=main>billing", "rfc4733=1", "ended=remote_bye"} {
			if !strings.Contains(line, want) {
				t.Errorf("call summary = %q, want it to contain %q", line, want)
			}
		}
		if _, err := g.waitLog(ctx, "call answered", c.CallID(), "srtp=true"); err != nil {
			t.Error(err)
		}
		// The 200 named our TLS side: transport=tls in its Contact.
		if log := strings.Join(c.SIPLog(), "\n"); !strings.Contains(log, ";transport=tls>") {
			t.Errorf("SIP log has no Contact with transport=tls:\n%s", log)
		}
	})

	refused := []struct {
		name string
		cfg  testphone.Config
	}{
		{"plain rtp over tls", testphone.Config{Target: tlsAddr, Transport: "tls", TLS: client, From: "bob-tls", To: "support"}},
		{"plain rtp over udp", testphone.Config{Target: g.SIP, Transport: "udp", From: "bob-udp", To: "support"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := testphone.Dial(ctx, tt.cfg)
			var se *testphone.StatusError
			if !errors.As(err, &se) || se.Code != 488 {
				if c != nil {
					c.Close()
				}
				t.Fatalf("Dial(%s) error = %v, want 488 (srtp required)", tt.name, err)
			}
		})
	}
}

// TestTLSSRTPOptional: with -srtp optional, a phone over TLS gets SRTP when
// it offers it and plain RTP when it does not; both hear the greeting.
func TestTLSSRTPOptional(t *testing.T) {
	_, tlsAddr, client := startTLSGateway(t, "optional")
	set := promptSet(t)
	for _, srtp := range []bool{true, false} {
		t.Run(fmt.Sprintf("srtp=%v", srtp), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := testphone.Dial(ctx, testphone.Config{Target: tlsAddr, Transport: "tls", TLS: client, SRTP: srtp,
				From: "carol-tls", To: "support", Codecs: []uint8{8}})
			if err != nil {
				t.Fatalf("Dial(tls, srtp %v) error = %v", srtp, err)
			}
			defer c.Close()
			if m := c.Media(); m.SRTP != srtp {
				t.Errorf("Media().SRTP = %v, want %v", m.SRTP, srtp)
			}
			if err := waitPrompt(ctx, c, time.Time{}, promptSignature(t, set, "en", "welcome", 8)); err != nil {
				t.Fatal(err)
			}
			if err := c.Hangup(ctx); err != nil {
				t.Fatalf("Hangup() error = %v", err)
			}
		})
	}
}
