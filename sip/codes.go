package sip

import "sync/atomic"

// responseCodes counts the responses sent to INVITEs by status code, for
// the metric of INVITE responses by code. Retransmissions of a response are
// not counted again.
type responseCodes [700]atomic.Uint64

func (r *responseCodes) add(code int) {
	if code >= 100 && code < len(r) {
		r[code].Add(1)
	}
}

func (r *responseCodes) snapshot() map[int]uint64 {
	out := map[int]uint64{}
	for code := 100; code < len(r); code++ {
		if n := r[code].Load(); n > 0 {
			out[code] = n
		}
	}
	return out
}

// InviteResponses returns how many responses of each status code the server
// has sent to INVITEs since it started (the 487 sipgo sends on CANCEL too).
func (s *Server) InviteResponses() map[int]uint64 { return s.inviteCodes.snapshot() }
