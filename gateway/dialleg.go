package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ivrgw/ivrgw/media"
	"github.com/ivrgw/ivrgw/sip"
	"github.com/ivrgw/ivrgw/sip/sdp"
)

// dialedLeg is a leg the gateway placed (an agent's phone, a callback's
// customer through the trunk), answered, with its media running.
type dialedLeg struct {
	out    *sip.Outbound
	stream *media.Stream
	close  func() // stops the leg's media, waits for its reader, frees its port
}

// errLegPort: no RTP port could be had for the leg; nothing was sent.
var errLegPort = errors.New("no rtp port for the leg")

// errLegMedia: the far end answered, but its media could not be set up; the
// gateway already hung the leg up.
var errLegMedia = errors.New("answered leg has unusable media")

// dial places r from a fresh RTP port and starts the answered leg's media
// in run (a call's errgroup), until ctx ends. law is the codec offered
// first (the other G.711 law follows), so a bridge to a leg of that law
// needs no transcoding. DialAgent's errors are returned as they are.
func (f *Fallback) dial(ctx context.Context, run func(string, func() error), r sip.DialRequest, law uint8, log *slog.Logger) (*dialedLeg, error) {
	sock, err := openRTP(f.cfg.Ports, f.cfg.Shared, f.cfg.BindIP, r.ContactAtSource())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errLegPort, err)
	}
	r.Local = sdp.Local{Addr: f.cfg.PublicIP, Port: sock.port, Codecs: []uint8{law, 8 - law},
		SessionID: uint64(time.Now().UnixNano()), Version: 1}
	out, err := f.cfg.Dialer.DialAgent(ctx, r)
	if err != nil {
		sock.free()
		return nil, err
	}
	m := out.Media()
	sec, err := srtpFor(m)
	if err != nil {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = out.Hangup(hctx)
		sock.free()
		return nil, fmt.Errorf("%w: srtp: %w", errLegMedia, err)
	}
	s := media.NewStream(media.StreamConfig{Conn: sock.conn, Mux: sock.mux, Remote: m.Remote, PayloadType: m.PayloadType, Codec: m.Codec,
		EventPT: m.EventPT, HasEvents: m.HasEvents, Logger: log, SRTP: sec})
	lctx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	run("dialed leg rtp", func() error {
		defer close(ran)
		_ = s.Run(lctx)
		return nil
	})
	return &dialedLeg{out: out, stream: s, close: func() {
		stop()      // ends Run on a shared socket
		sock.free() // closes a socket of its own, which wakes its reader
		<-ran
	}}, nil
}
