package sdp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// keyA and keyB are two fixed master key||salt values (30 bytes each).
var (
	keyA = []byte("0123456789abcdefghijklmnopqrst")
	keyB = []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123")
	b64A = base64.StdEncoding.EncodeToString(keyA)
)

func TestParseCrypto(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Crypto
		wantErr bool
	}{
		{name: "80", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A, want: Crypto{Tag: 1, Suite: SuiteAES128SHA1_80, Key: keyA}},
		{name: "32 lower-case suite", in: "7 aes_cm_128_hmac_sha1_32 inline:" + b64A, want: Crypto{Tag: 7, Suite: SuiteAES128SHA1_32, Key: keyA}},
		{name: "nine-digit tag", in: "999999999 AES_CM_128_HMAC_SHA1_80 inline:" + b64A, want: Crypto{Tag: 999999999, Suite: SuiteAES128SHA1_80, Key: keyA}},
		{name: "lifetime 2^31", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + "|2^31", want: Crypto{Tag: 1, Suite: SuiteAES128SHA1_80, Key: keyA}},
		{name: "lifetime decimal 2^48", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + "|281474976710656", want: Crypto{Tag: 1, Suite: SuiteAES128SHA1_80, Key: keyA}},
		{name: "unpadded base64", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.TrimRight(b64A, "="), want: Crypto{Tag: 1, Suite: SuiteAES128SHA1_80, Key: keyA}},
		{name: "lifetime too short", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + "|2^20", wantErr: true},
		{name: "MKI", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + "|2^31|1:4", wantErr: true},
		{name: "two keys", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + ";inline:" + b64A, wantErr: true},
		{name: "session param UNENCRYPTED_SRTP", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + " UNENCRYPTED_SRTP", wantErr: true},
		{name: "unknown suite", in: "1 AES_256_CM_HMAC_SHA1_80 inline:" + b64A, wantErr: true},
		{name: "F8 suite", in: "1 F8_128_HMAC_SHA1_80 inline:" + b64A, wantErr: true},
		{name: "short key", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(keyA[:29]), wantErr: true},
		{name: "long key", in: "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(append(keyA, 'x')), wantErr: true},
		{name: "bad base64", in: "1 AES_CM_128_HMAC_SHA1_80 inline:!!!!", wantErr: true},
		{name: "not inline", in: "1 AES_CM_128_HMAC_SHA1_80 uri:" + b64A, wantErr: true},
		{name: "ten-digit tag", in: "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + b64A, wantErr: true},
		{name: "signed tag", in: "+1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A, wantErr: true},
		{name: "missing key", in: "1 AES_CM_128_HMAC_SHA1_80", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCrypto(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadCrypto) {
					t.Fatalf("ParseCrypto(%q) = %+v, %v, want ErrBadCrypto", tt.in, got, err)
				}
				return
			}
			if err != nil || got.Tag != tt.want.Tag || got.Suite != tt.want.Suite || !bytes.Equal(got.Key, tt.want.Key) {
				t.Fatalf("ParseCrypto(%q) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
			}
			if back, err := ParseCrypto(got.String()); err != nil || back.Tag != got.Tag || !bytes.Equal(back.Key, got.Key) {
				t.Errorf("ParseCrypto(%q) = %+v, %v, want it to read back", got.String(), back, err)
			}
		})
	}
}

// savpOffer is baresip's offer moved to RTP/SAVP with the given crypto lines.
func savpOffer(proto string, cryptoLines ...string) []byte {
	s := strings.Replace(string(offerBaresip), "RTP/AVP", proto, 1)
	for _, l := range cryptoLines {
		s += "a=crypto:" + l + "\r\n"
	}
	return []byte(s)
}

func TestNegotiateSRTP(t *testing.T) {
	withMode := func(m SRTPMode) Local { l := local; l.SRTP, l.Key = m, keyB; return l }
	good := "5 AES_CM_128_HMAC_SHA1_80 inline:" + b64A
	tests := []struct {
		name      string
		offer     []byte
		local     Local
		wantErr   error
		wantSRTP  *SRTP // nil: plain
		wantLines []string
	}{
		{name: "required, savp offer", offer: savpOffer("RTP/SAVP", good), local: withMode(SRTPRequired),
			wantSRTP:  &SRTP{Suite: SuiteAES128SHA1_80, RemoteKey: keyA, LocalKey: keyB},
			wantLines: []string{"m=audio 30000 RTP/SAVP 0 101", "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(keyB)}},
		{name: "required, first usable of several crypto lines", local: withMode(SRTPRequired),
			offer:     savpOffer("RTP/SAVP", "1 AES_256_CM_HMAC_SHA1_80 inline:"+b64A, "2 AES_CM_128_HMAC_SHA1_32 inline:"+b64A, good),
			wantSRTP:  &SRTP{Suite: SuiteAES128SHA1_32, RemoteKey: keyA, LocalKey: keyB},
			wantLines: []string{"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" + base64.StdEncoding.EncodeToString(keyB)}},
		{name: "required, plain offer", offer: offerBaresip, local: withMode(SRTPRequired), wantErr: ErrSRTPRequired},
		{name: "required, plain offer with crypto lines", offer: savpOffer("RTP/AVP", good), local: withMode(SRTPRequired), wantErr: ErrSRTPRequired},
		{name: "required, savp without crypto", offer: savpOffer("RTP/SAVP"), local: withMode(SRTPRequired), wantErr: ErrNoCommonCodec},
		{name: "required, savp with only unusable crypto", offer: savpOffer("RTP/SAVP", good+" UNENCRYPTED_SRTP"), local: withMode(SRTPRequired), wantErr: ErrNoCommonCodec},
		{name: "optional, savp offer", offer: savpOffer("RTP/SAVP", good), local: withMode(SRTPOptional),
			wantSRTP: &SRTP{Suite: SuiteAES128SHA1_80, RemoteKey: keyA, LocalKey: keyB}, wantLines: []string{"m=audio 30000 RTP/SAVP 0 101"}},
		{name: "optional, plain offer", offer: offerBaresip, local: withMode(SRTPOptional), wantLines: []string{"m=audio 30000 RTP/AVP 0 101"}},
		{name: "off, savp offer", offer: savpOffer("RTP/SAVP", good), local: local, wantErr: ErrNoCommonCodec},
		{name: "off, plain offer with crypto lines", offer: savpOffer("RTP/AVP", good), local: local, wantLines: []string{"m=audio 30000 RTP/AVP 0 101"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer, m, err := Negotiate(tt.offer, tt.local)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Negotiate() error = %v, want %v", err, tt.wantErr)
				}
				if code, _ := Status(err); code != 488 {
					t.Errorf("Status(%v) = %d, want 488", err, code)
				}
				return
			}
			if err != nil {
				t.Fatalf("Negotiate() error = %v", err)
			}
			if got, want := fmt.Sprint(m.SRTP), fmt.Sprint(tt.wantSRTP); got != want {
				t.Errorf("Negotiate() SRTP = %s, want %s", got, want)
			}
			lines := strings.Split(string(answer), "\r\n")
			for _, l := range tt.wantLines {
				if !contains(lines, l) {
					t.Errorf("answer lacks %q:\n%s", l, answer)
				}
			}
			if tt.wantSRTP == nil && strings.Contains(string(answer), "a=crypto") {
				t.Errorf("plain answer carries a=crypto:\n%s", answer)
			}
		})
	}
	t.Run("required without a local key", func(t *testing.T) {
		l := local
		l.SRTP = SRTPRequired
		if _, _, err := Negotiate(savpOffer("RTP/SAVP", good), l); err == nil {
			t.Errorf("Negotiate() with no key error = nil, want an error")
		}
	})
}

func TestOfferSRTP(t *testing.T) {
	ours := local
	ours.SRTP, ours.Key = SRTPRequired, keyB
	offer := Offer(ours)
	for _, l := range []string{"m=audio 30000 RTP/SAVP 0 8 101", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(keyB)} {
		if !contains(strings.Split(string(offer), "\r\n"), l) {
			t.Errorf("Offer() lacks %q:\n%s", l, offer)
		}
	}
	peer := Local{Addr: netip.MustParseAddr("127.0.0.2"), Port: 40000, Codecs: []uint8{PCMU}, SessionID: 1, Version: 1, SRTP: SRTPRequired, Key: keyA}
	answer, _, err := Negotiate(offer, peer)
	if err != nil {
		t.Fatalf("Negotiate(Offer()) error = %v", err)
	}
	tests := []struct {
		name     string
		answer   []byte
		wantErr  error
		wantSRTP *SRTP
	}{
		{name: "peer answer", answer: answer, wantSRTP: &SRTP{Suite: SuiteAES128SHA1_80, RemoteKey: keyA, LocalKey: keyB}},
		{name: "plain answer", answer: offerBaresip, wantErr: ErrSRTPRequired},
		{name: "another tag", answer: []byte(strings.Replace(string(answer), "a=crypto:1 ", "a=crypto:2 ", 1)), wantErr: ErrSRTPRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseAnswer(tt.answer, ours)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseAnswer() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(m.SRTP) != fmt.Sprint(tt.wantSRTP) {
				t.Errorf("ParseAnswer() = %v, %v, want SRTP %v", m.SRTP, err, tt.wantSRTP)
			}
		})
	}
}

func TestParseSRTPMode(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want SRTPMode
		err  bool
	}{{"off", SRTPOff, false}, {"", SRTPOff, false}, {"optional", SRTPOptional, false}, {"Required", SRTPRequired, false}, {"on", SRTPOff, true}} {
		got, err := ParseSRTPMode(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseSRTPMode(%q) = %v, %v, want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzCrypto checks that any a=crypto value is either refused with
// ErrBadCrypto or yields a 30-byte key that writes back to itself, and that
// an SRTP-required offer carrying it never breaks Negotiate.
func FuzzCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A,
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + b64A + "|2^31",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + "|2^31|1:4",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + " KDR=1",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + b64A + ";inline:" + b64A,
		"",
	} {
		f.Add(s)
	}
	ours := local
	ours.SRTP, ours.Key = SRTPRequired, keyB
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseCrypto(v)
		if err != nil {
			if !errors.Is(err, ErrBadCrypto) {
				t.Fatalf("ParseCrypto(%q) error = %v, want ErrBadCrypto", v, err)
			}
		} else {
			if len(c.Key) != KeyLen || (c.Suite != SuiteAES128SHA1_80 && c.Suite != SuiteAES128SHA1_32) {
				t.Fatalf("ParseCrypto(%q) = %+v, want a %d-byte key and one of our suites", v, c, KeyLen)
			}
			back, err := ParseCrypto(c.String())
			if err != nil || back.Tag != c.Tag || back.Suite != c.Suite || !bytes.Equal(back.Key, c.Key) {
				t.Fatalf("ParseCrypto(%q) = %+v, %v, want %+v", c.String(), back, err, c)
			}
		}
		if strings.ContainsAny(v, "\r\n") {
			return // would be another SDP line, not this attribute
		}
		answer, m, err := Negotiate(savpOffer("RTP/SAVP", v), ours)
		switch {
		case err != nil:
			if !errors.Is(err, ErrNoCommonCodec) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Negotiate() error = %v, want ErrNoCommonCodec or ErrMalformed", err)
			}
		case m.SRTP == nil || !bytes.Equal(m.SRTP.LocalKey, keyB):
			t.Fatalf("Negotiate() SRTP = %+v, want our key", m.SRTP)
		case strings.Count(string(answer), "a=crypto:") != 1:
			t.Fatalf("answer has %d a=crypto lines, want 1:\n%s", strings.Count(string(answer), "a=crypto:"), answer)
		}
	})
}
