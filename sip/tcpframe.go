package sip

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Over TCP a framing error leaves no message boundary to resync on, and
// sipgo closes the connection at once, while the handlers of the requests
// parsed just before the bad octets are still running: their answers then
// find no connection, and sipgo dials the Via sent-by instead (RFC 4475
// §3.1.1.8 dblreq over TCP lost its answer that way). tcpFrames mirrors
// sipgo's stream parser in the transport read filter, one per connection
// with a message in progress. When a read holds complete requests and then
// bad octets, it passes sipgo only the complete requests and discards the
// rest of the stream; the connection is closed once each of those requests
// has had its final answer (or after poisonLinger).
type tcpFrames struct {
	s   *Server
	max int // connections with a message in progress that are mirrored

	mu    sync.Mutex
	conns map[string]*tcpStream // by remote address
}

type tcpStream struct {
	par      *sip.ParserStream
	carried  int // bytes of the message in progress fed in earlier reads
	last     time.Time
	poisoned bool
	left     int // requests before the bad octets still to be answered
	timer    *time.Timer
}

const (
	maxTCPFrames = 4096
	// poisonLinger bounds how long a connection that sent bad octets stays
	// open for the answers to its good requests: Timer F/H, 64*T1.
	poisonLinger = 64 * 500 * time.Millisecond
	// partialMax is how long a message may stay incomplete before the
	// mirror forgets it (a stalled sender; sipgo would wait on).
	partialMax = 64 * 500 * time.Millisecond
)

var errTooManyTCPPartials = errors.New("sip: too many tcp connections with a message in progress")

// filter is the read filter's TCP half: it returns what sipgo may parse.
func (f *tcpFrames) filter(raddr string, data []byte) ([]byte, error) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.conns[raddr]
	if st != nil && st.poisoned {
		return nil, nil // the rest of a stream we stopped reading
	}
	if st != nil && now.Sub(st.last) > partialMax {
		f.forget(raddr, st) // a stale mirror (or another connection from the same port)
		st = nil
	}
	if st == nil {
		if len(data) <= 4 && len(trimCRLF(data)) == 0 {
			return data, nil // keep-alive between messages: sipgo handles it
		}
		st = &tcpStream{par: f.s.parser.NewSIPStream()}
	}
	st.last = now
	off, requests, err := st.feed(data)
	switch {
	case err == nil && st.carried == 0:
		f.forget(raddr, st) // at a message boundary: nothing to mirror
		return data, nil
	case err == nil:
		if f.conns[raddr] == nil {
			if len(f.conns) >= f.max {
				f.sweep(now)
			}
			if len(f.conns) >= f.max {
				st.par.Close()
				return nil, errTooManyTCPPartials // sipgo closes the connection
			}
			if f.conns == nil {
				f.conns = make(map[string]*tcpStream)
			}
			f.conns[raddr] = st
		}
		return data, nil
	}
	// Bad octets at off: sipgo gets the complete requests before them.
	st.poisoned, st.left = true, requests
	st.par.Close()
	if f.conns == nil {
		f.conns = make(map[string]*tcpStream)
	}
	f.conns[raddr] = st
	f.s.badLog.log(f.s.log, "sip tcp stream unparsable: closing after answers", "source", raddr, "requests", requests, "error", err.Error())
	if requests == 0 {
		go f.close(raddr, st)
	} else {
		st.timer = time.AfterFunc(poisonLinger, func() { f.close(raddr, st) })
	}
	return data[:off], nil
}

// feed parses data after what came before; it returns the length of the
// prefix of data that ends the last complete message, and the number of
// requests (ACK aside: no answer is due) completed in it.
func (st *tcpStream) feed(data []byte) (off, requests int, err error) {
	if _, err := st.par.Write(data); err != nil {
		return 0, 0, err
	}
	for st.par.Buffer().Len() > 0 {
		msg, n, err := st.par.ParseNext()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			st.carried += len(data) - off
			return off, requests, nil
		}
		if err != nil {
			return off, requests, err
		}
		off += n - st.carried
		st.carried = 0
		if req, ok := msg.(*sip.Request); ok && !req.IsAck() {
			requests++
		}
	}
	return off, requests, nil
}

// forget drops a mirror; f.mu is held.
func (f *tcpFrames) forget(raddr string, st *tcpStream) {
	if !st.poisoned {
		st.par.Close()
	}
	if f.conns[raddr] == st {
		delete(f.conns, raddr)
	}
}

// sweep drops mirrors of messages stalled longer than partialMax; f.mu is
// held.
func (f *tcpFrames) sweep(now time.Time) {
	for k, st := range f.conns {
		if !st.poisoned && now.Sub(st.last) > partialMax {
			f.forget(k, st)
		}
	}
}

// answered is called once per request of a poisoned connection when its
// final answer is out (or its handler returned without one).
func (f *tcpFrames) answered(raddr string, st *tcpStream) {
	f.mu.Lock()
	st.left--
	done := st.left <= 0
	f.mu.Unlock()
	if done {
		f.close(raddr, st)
	}
}

// close ends a poisoned connection.
func (f *tcpFrames) close(raddr string, st *tcpStream) {
	f.mu.Lock()
	if st.timer != nil {
		st.timer.Stop()
	}
	if f.conns[raddr] == st {
		delete(f.conns, raddr)
	}
	f.mu.Unlock()
	c := f.s.ua.TransportLayer().Pool("tcp").Get(raddr)
	if c == nil {
		return
	}
	defer c.TryClose() // Get took a reference
	// Shut the read side only: sipgo's reader sees EOF and closes the
	// connection itself, keeping its pool's reference counts right.
	if tc, ok := c.(*sip.TCPConnection); ok {
		if nc, ok := tc.Conn.(*net.TCPConn); ok {
			nc.CloseRead()
			return
		}
	}
	c.Close()
}

// track wraps the transaction of a request that came before bad octets on
// its TCP connection, so the connection is closed once it is answered.
func (f *tcpFrames) track(req *sip.Request, tx sip.ServerTransaction) (sip.ServerTransaction, func()) {
	if req.IsAck() || req.Transport() != "TCP" {
		return tx, func() {}
	}
	raddr := req.Source()
	f.mu.Lock()
	st := f.conns[raddr]
	f.mu.Unlock()
	if st == nil || !st.poisoned {
		return tx, func() {}
	}
	var once sync.Once
	done := func() { once.Do(func() { f.answered(raddr, st) }) }
	return &answerTx{ServerTransaction: tx, done: done}, done
}

// answerTx notes the first final response sent on a transaction.
type answerTx struct {
	sip.ServerTransaction
	done func()
}

func (t *answerTx) Respond(res *sip.Response) error {
	err := t.ServerTransaction.Respond(res)
	if res.StatusCode >= 200 {
		t.done()
	}
	return err
}

func trimCRLF(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
