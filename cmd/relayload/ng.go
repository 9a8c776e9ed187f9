package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// ngClient speaks rtpengine's NG control protocol: one UDP datagram per
// request, "COOKIE SPACE BENCODED-DICT", answered by a datagram with the
// same cookie. rtpengine caches each reply by cookie, so a retransmission
// with the same cookie is safe (it does not create a second call).
//
// One request at a time: the ramp sets sessions up one after another.
type ngClient struct {
	conn    *net.UDPConn // connected: only the server's datagrams arrive
	prefix  string
	seq     int
	timeout time.Duration // per try
	tries   int
	buf     []byte
}

// errNG is a reply whose result is not ok (rtpengine's "error-reason").
var errNG = errors.New("ng error reply")

func dialNG(server netip.AddrPort, timeout time.Duration, tries int) (*ngClient, error) {
	if err := loopbackOnly(server.Addr()); err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return nil, fmt.Errorf("dial ng %v: %w", server, err)
	}
	return &ngClient{
		conn:    conn,
		prefix:  "rl" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "_",
		timeout: timeout,
		tries:   tries,
		buf:     make([]byte, 65536),
	}, nil
}

func (c *ngClient) Close() error { return c.conn.Close() }

// call sends req and returns the reply dictionary, whose "result" was
// "ok" or "pong".
func (c *ngClient) call(ctx context.Context, req map[string]any) (map[string]any, error) {
	c.seq++
	cookie := c.prefix + strconv.Itoa(c.seq)
	msg, err := bencodeEncode(append([]byte(cookie), ' '), req)
	if err != nil {
		return nil, err
	}
	cmd, _ := req["command"].(string)
	for try := 0; try < c.tries; try++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := c.conn.Write(msg); err != nil {
			return nil, fmt.Errorf("ng %s: send: %w", cmd, err)
		}
		reply, err := c.await(cookie)
		if errors.Is(err, errNGTimeout) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ng %s: %w", cmd, err)
		}
		switch r, _ := reply["result"].(string); r {
		case "ok", "pong":
			return reply, nil
		default:
			reason, _ := reply["error-reason"].(string)
			return reply, fmt.Errorf("ng %s: %w: result %q: %s", cmd, errNG, r, reason)
		}
	}
	return nil, fmt.Errorf("ng %s: no reply after %d tries of %v", cmd, c.tries, c.timeout)
}

var errNGTimeout = errors.New("ng reply timeout")

// await reads until the reply carrying cookie arrives or the try times
// out; replies to earlier, retransmitted requests are skipped.
func (c *ngClient) await(cookie string) (map[string]any, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, err
	}
	for range 64 { // stale replies this try may skip; more means a confused server
		n, err := c.conn.Read(c.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, errNGTimeout
			}
			return nil, fmt.Errorf("read reply: %w", err)
		}
		got, body, ok := bytes.Cut(c.buf[:n], []byte{' '})
		if !ok || string(got) != cookie {
			continue
		}
		v, err := bencodeDecode(body)
		if err != nil {
			return nil, fmt.Errorf("decode reply: %w", err)
		}
		d, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reply is a %T, not a dictionary", v)
		}
		return d, nil
	}
	return nil, errors.New("too many replies with other cookies")
}

// relayTarget is the loopback address:port in the "sdp" of an NG reply.
func relayTarget(reply map[string]any) (netip.AddrPort, error) {
	sdp, ok := reply["sdp"].(string)
	if !ok {
		return netip.AddrPort{}, errors.New("reply has no sdp")
	}
	ap, err := sdpAudioTarget(sdp)
	if err != nil {
		return netip.AddrPort{}, err
	}
	// Only loopback is a target: refuse to send media anywhere the relay
	// might point us.
	if err := loopbackOnly(ap.Addr()); err != nil {
		return netip.AddrPort{}, fmt.Errorf("relay sdp: %w", err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
