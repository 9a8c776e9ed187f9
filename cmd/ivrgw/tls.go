package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/ivrgw/ivrgw/sip/sdp"
)

// checkTLS validates the TLS and SRTP flags together: TLS needs a
// certificate and key, and SRTP needs TLS (SDES keys travel in the SDP,
// docs/tls-srtp.md).
func (o *options) checkTLS(srtp string) error {
	var err error
	if o.srtp, err = sdp.ParseSRTPMode(srtp); err != nil {
		return fmt.Errorf("-srtp: %w", err)
	}
	if o.tlsListen == "" {
		if o.srtp != sdp.SRTPOff {
			return fmt.Errorf("-srtp %s: needs -tls-listen (SDES keys are only exchanged over TLS)", o.srtp)
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(o.tlsListen); err != nil {
		return fmt.Errorf("-tls-listen %q: %w", o.tlsListen, err)
	}
	if o.tlsCert == "" || o.tlsKey == "" {
		return errors.New("-tls-listen: needs -tls-cert and -tls-key (PEM files)")
	}
	return nil
}

// tlsConfig loads the certificate for -tls-listen; nil when TLS is off.
func (o *options) tlsConfig() (*tls.Config, error) {
	if o.tlsListen == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert/-tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
