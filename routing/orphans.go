package routing

import (
	"context"
	"fmt"
	"time"
)

// Orphan is a bridged call whose gateway died: its agent is still on the
// phone with nobody relaying, and the stored dialogs let a surviving gateway
// hang up both legs.
type Orphan struct {
	Ext    string
	Token  string
	CallID string
	Data   []byte // what SaveDialogs stored
}

// dialogsTTL bounds a stored bridge: no call lasts a day.
const dialogsTTL = 24 * time.Hour

// SaveDialogs keeps data (both legs' dialogs, opaque here) with the claim
// of a bridged call, until the claim is released. If the lease lapses
// without a release (the gateway died), the agent is kept on_call and a
// surviving gateway takes the call with TakeOrphans.
func (s *Store) SaveDialogs(ctx context.Context, c Claim, data []byte) error {
	v, err := s.run(ctx, scriptOrphans, "save", c.Ext, c.Token, data, dialogsTTL.Milliseconds())
	if err != nil {
		return s.fail(ctx, "save dialogs "+c.Ext, err)
	}
	if n, _ := v.(int64); n != 1 {
		return fmt.Errorf("save dialogs %s call %s: %w", c.Ext, c.CallID, ErrLeaseLost)
	}
	return nil
}

// orphanLock is how long a survivor has to hang up an orphan before another
// gateway may try: the two BYEs take at most a few seconds.
const orphanLock = 30 * time.Second

// TakeOrphans locks, for gatewayID, the bridged calls of dead gateways
// whose lease lapsed more than a short grace ago. The caller hangs up both
// legs and then calls ReleaseOrphan; if it dies first, the lock lapses and
// another gateway takes them.
func (s *Store) TakeOrphans(ctx context.Context, gatewayID string) ([]Orphan, error) {
	if err := checkValue("gateway id", gatewayID); err != nil {
		return nil, fmt.Errorf("take orphans: %w", err)
	}
	// Let the lazy settling run first: it is what marks lapsed leases.
	if _, err := s.Sweep(ctx); err != nil {
		return nil, err
	}
	v, err := s.run(ctx, scriptOrphans, "take", gatewayID, orphanLock.Milliseconds(), 16)
	if err != nil {
		return nil, s.fail(ctx, "take orphans", err)
	}
	r, _ := v.([]any)
	var out []Orphan
	for i := 0; i+3 < len(r); i += 4 {
		str := func(j int) string { x, _ := r[i+j].(string); return x }
		out = append(out, Orphan{Ext: str(0), Token: str(1), CallID: str(2), Data: []byte(str(3))})
	}
	return out, nil
}

// ReleaseOrphan frees the agent of an orphan once both legs are hung up.
func (s *Store) ReleaseOrphan(ctx context.Context, o Orphan) error {
	v, err := s.run(ctx, scriptOrphans, "done", o.Ext, o.Token)
	if err != nil {
		return s.fail(ctx, "release orphan "+o.Ext, err)
	}
	s.log.Debug("orphan released", "ext", o.Ext, "call_id", o.CallID, "state", v)
	return nil
}
