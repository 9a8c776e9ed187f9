package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
)

// bridgeDialogs is what a bridged call keeps in Redis with its agent's
// lease, so that any gateway of the pool can hang it up if this one dies.
type bridgeDialogs struct {
	Gateway string     `json:"gateway"`
	Caller  sip.Dialog `json:"caller"`
	Agent   sip.Dialog `json:"agent"`
}

// saveBridge stores both legs of a call just bridged: the caller's (an
// inbound call, or a callback's leg through the trunk) and the agent's.
// Failing to is not a reason to end the call; it only means nobody could
// clean up after a crash.
func (f *Fallback) saveBridge(ctx context.Context, caller sip.Dialog, out *sip.Outbound, claim routing.Claim, log *slog.Logger) {
	data, err := json.Marshal(bridgeDialogs{Gateway: f.cfg.GatewayID, Caller: caller, Agent: out.Dialog()})
	if err != nil {
		return
	}
	if err := f.cfg.Pool.SaveDialogs(ctx, claim, data); err != nil {
		log.Warn("bridge not recorded for failover", "err", err)
	}
}

// OrphanStore finds the bridged calls of dead gateways; *routing.Store
// implements it.
type OrphanStore interface {
	TakeOrphans(ctx context.Context, gatewayID string) ([]routing.Orphan, error)
	ReleaseOrphan(ctx context.Context, o routing.Orphan) error
}

// DialogEnder sends the BYE of a stored dialog; *sip.Server implements it.
type DialogEnder interface {
	EndDialog(ctx context.Context, d sip.Dialog) error
}

// ReapOrphans is run by every gateway: every interval it takes the bridged
// calls whose gateway died (their lease lapsed), sends BYE to both legs from
// this gateway, and only then frees the agent, so an agent is never offered
// a call while their phone is still in the last one. It returns when ctx
// ends.
func ReapOrphans(ctx context.Context, st OrphanStore, sipd DialogEnder, gatewayID string, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		orphans, err := st.TakeOrphans(ctx, gatewayID)
		if err != nil {
			continue // Redis is down: the sweeper says so once
		}
		for _, o := range orphans {
			endOrphan(ctx, st, sipd, o, log)
		}
	}
}

// orphanByeTimeout bounds each BYE: a leg whose phone is gone too must not
// hold the agent forever.
const orphanByeTimeout = 8 * time.Second

func endOrphan(ctx context.Context, st OrphanStore, sipd DialogEnder, o routing.Orphan, log *slog.Logger) {
	log = log.With("call_id", o.CallID, "agent", o.Ext)
	var d bridgeDialogs
	if err := json.Unmarshal(o.Data, &d); err != nil {
		log.Error("orphaned call has unreadable dialogs; freeing the agent", "err", err)
	} else {
		g, gctx := newGroup(context.WithoutCancel(ctx), log)
		for _, leg := range []struct {
			name string
			d    sip.Dialog
		}{{"caller", d.Caller}, {"agent", d.Agent}} {
			g.Go("orphan bye "+leg.name, func() error {
				bctx, cancel := context.WithTimeout(gctx, orphanByeTimeout)
				defer cancel()
				if err := sipd.EndDialog(bctx, leg.d); err != nil {
					log.Warn("orphaned call: bye failed", "leg", leg.name, "err", err)
				}
				return nil
			})
		}
		_ = g.Wait()
		log.Warn("orphaned call hung up: its gateway died", "dead_gateway", d.Gateway)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := st.ReleaseOrphan(rctx, o); err != nil {
		log.Warn("orphaned call: agent not freed", "err", err)
	}
}
