package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ivrgw/ivrgw/agents"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip"
	"github.com/ivrgw/ivrgw/sip/registrar"
)

// Directory adapts the operator's agent file to the registrar.
type Directory struct{ Dir *agents.Directory }

var _ registrar.Directory = Directory{}

// Lookup implements registrar.Directory.
func (d Directory) Lookup(user string) (registrar.Credentials, bool) {
	a, ok := d.Dir.Lookup(user)
	if !ok {
		return registrar.Credentials{}, false
	}
	return registrar.Credentials{HA1MD5: a.HA1MD5, HA1SHA256: a.HA1SHA256, Demo: a.Demo}, true
}

// Bindings stores registrations in routing, and with them the agent's skills
// from the directory, so a freshly registered agent is offered the right calls
// even when Redis was empty or down at start. It keeps its own copy of every
// binding it accepted, so that when the store loses its data (restarted
// without persistence, flushed) or was down when an agent registered, Run
// writes them back instead of leaving agents unreachable until their phones
// re-register.
type Bindings struct {
	store *routing.Store
	dir   *agents.Directory

	mu       sync.Mutex
	accepted map[string]routing.Binding // by extension; Expires bounds each
	epoch    string                     // the store's epoch last seen; "" before the first
	dirty    bool                       // a write failed: write all back when the store answers
	rewrites atomic.Uint64
}

var _ registrar.Bindings = (*Bindings)(nil)

// NewBindings returns bindings kept in store, skills read from dir.
func NewBindings(store *routing.Store, dir *agents.Directory) *Bindings {
	return &Bindings{store: store, dir: dir, accepted: map[string]routing.Binding{}}
}

// SetBinding implements registrar.Bindings.
func (b *Bindings) SetBinding(ctx context.Context, ext string, rb registrar.Binding, ttl time.Duration) error {
	rec := routing.Binding{
		Contact: rb.Contact, Source: rb.Source, Transport: strings.ToLower(rb.Transport), Expires: rb.Expires,
	}
	if rec.Expires.IsZero() {
		rec.Expires = time.Now().Add(ttl)
	}
	b.mu.Lock()
	b.accepted[ext] = rec
	b.mu.Unlock()
	err := b.write(ctx, ext, rec, ttl)
	if err != nil {
		b.mu.Lock()
		b.dirty = true
		b.mu.Unlock()
	}
	return err
}

func (b *Bindings) write(ctx context.Context, ext string, rec routing.Binding, ttl time.Duration) error {
	if a, ok := b.dir.Lookup(ext); ok {
		if err := b.store.SetSkills(ctx, ext, a.Skills); err != nil {
			return fmt.Errorf("set skills of %s: %w", ext, err)
		}
	}
	return b.store.SetBinding(ctx, ext, rec, ttl)
}

// Sync writes every directory agent's skills to the store, so agents who
// have not registered yet show as offline and a skill edit reaches Redis
// at start. A failure (Redis down) is not fatal: SetBinding syncs again at
// each registration.
func (b *Bindings) Sync(ctx context.Context) error {
	var errs []error
	for _, a := range b.dir.All() {
		if err := b.store.SetSkills(ctx, a.Extension, a.Skills); err != nil {
			errs = append(errs, fmt.Errorf("agent %s: %w", a.Extension, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveBinding implements registrar.Bindings.
func (b *Bindings) RemoveBinding(ctx context.Context, ext string) error {
	b.mu.Lock()
	delete(b.accepted, ext)
	b.mu.Unlock()
	return b.store.RemoveBinding(ctx, ext)
}

// Accepted is how many unexpired bindings this gateway holds.
func (b *Bindings) Accepted() int {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, rec := range b.accepted {
		if rec.Expires.After(now) {
			n++
		}
	}
	return n
}

// Rewrites counts the times the bindings were written back.
func (b *Bindings) Rewrites() uint64 { return b.rewrites.Load() }

// Run checks the store's epoch every period and writes back what this
// gateway holds when the store lost it: first the claims of its live calls
// (claims; renewing restores them, so no agent on a call here looks free),
// then skills, then every unexpired binding with its remaining time. It
// returns when ctx ends.
func (b *Bindings) Run(ctx context.Context, every time.Duration, claims func() []routing.Claim, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.check(ctx, claims, log)
		}
	}
}

func (b *Bindings) check(ctx context.Context, claims func() []routing.Claim, log *slog.Logger) {
	epoch, err := b.store.Epoch(ctx)
	if err != nil {
		return // the store's own logs and metrics say it is down
	}
	b.mu.Lock()
	emptied := b.epoch != "" && b.epoch != epoch
	need := emptied || b.dirty
	b.epoch = epoch
	b.mu.Unlock()
	if !need {
		return
	}
	n, err := b.rewrite(ctx, claims)
	if err != nil {
		log.Warn("agent bindings not all written back; trying again", "err", err, "written", n)
		return
	}
	b.rewrites.Add(1)
	if emptied {
		log.Warn("agent store lost its data; bindings and claims written back", "bindings", n)
	} else {
		log.Info("agent store reachable again; bindings written back", "bindings", n)
	}
}

// rewrite writes everything back; a failure leaves the set dirty.
func (b *Bindings) rewrite(ctx context.Context, claims func() []routing.Claim) (int, error) {
	var errs []error
	if claims != nil {
		for _, c := range claims() {
			if err := b.store.Renew(ctx, c); err != nil && !errors.Is(err, routing.ErrLeaseLost) {
				errs = append(errs, fmt.Errorf("claim of %s: %w", c.Ext, err))
			}
		}
	}
	if err := b.Sync(ctx); err != nil {
		errs = append(errs, err)
	}
	now := time.Now()
	b.mu.Lock()
	todo := make(map[string]routing.Binding, len(b.accepted))
	for ext, rec := range b.accepted {
		if rec.Expires.After(now.Add(time.Second)) {
			todo[ext] = rec
		} else {
			delete(b.accepted, ext)
		}
	}
	b.mu.Unlock()
	n := 0
	for ext, rec := range todo {
		b.mu.Lock()
		cur, ok := b.accepted[ext]
		b.mu.Unlock()
		if !ok || cur != rec {
			continue // re-registered or unregistered meanwhile: that write stands
		}
		if err := b.write(ctx, ext, rec, rec.Expires.Sub(now)); err != nil {
			errs = append(errs, fmt.Errorf("binding of %s: %w", ext, err))
			continue
		}
		n++
	}
	err := errors.Join(errs...)
	b.mu.Lock()
	b.dirty = err != nil
	b.mu.Unlock()
	return n, err
}

// AgentControl is what feature codes need of the agents' state.
type AgentControl interface {
	Binding(ctx context.Context, ext string) (routing.Binding, error)
	Pause(ctx context.Context, ext, reason string) error
	Resume(ctx context.Context, ext string) error
}

// FeatureCodes are the numbers an agent dials from their softphone to change
// their own state.
type FeatureCodes struct {
	Available string // default "*1"
	Pause     string // default "*2"
}

func (f FeatureCodes) withDefaults() FeatureCodes {
	if f.Available == "" {
		f.Available = "*1"
	}
	if f.Pause == "" {
		f.Pause = "*2"
	}
	return f
}

// featureCode handles a call to a feature code. It reports false when the
// dialled number is not one, so the caller gets the menu. When it changed the
// agent's state, confirm names the prompt to play before hanging up; when it
// refused, it has already answered the INVITE and confirm is empty.
//
// An agent is recognised by its registration: the call must come from the
// very address and transport that registered with digest auth. Anyone else
// dialling a feature code gets 403 and changes nothing.
func (g *Gateway) featureCode(ctx context.Context, c *sip.Call) (handled bool, confirm, ended string) {
	codes := g.cfg.Features.withDefaults()
	callee := c.Callee()
	if g.cfg.Agents == nil || (callee != codes.Available && callee != codes.Pause) {
		return false, "", ""
	}
	log := c.Logger()
	ext := c.Caller().User
	b, err := g.cfg.Agents.Binding(ctx, ext)
	if err != nil || b.Source != c.Source() || !strings.EqualFold(b.Transport, c.Transport()) {
		if err != nil && errors.Is(err, routing.ErrUnavailable) {
			log.Warn("feature code: agent store unavailable", "ext", ext, "err", err)
			_ = c.Reject(503, "Service Unavailable")
			return true, "", "feature_unavailable"
		}
		log.Warn("feature code from an unregistered source refused", "ext", ext, "source", c.Source().String())
		_ = c.Reject(403, "Forbidden")
		return true, "", "feature_forbidden"
	}
	prompt := "agent_available"
	if callee == codes.Pause {
		err, prompt = g.cfg.Agents.Pause(ctx, ext, "feature_code"), "agent_paused"
	} else {
		err = g.cfg.Agents.Resume(ctx, ext)
	}
	if err != nil {
		log.Warn("feature code failed", "ext", ext, "code", callee, "err", err)
		_ = c.Reject(500, "Server Internal Error")
		return true, "", "feature_failed"
	}
	log.Info("agent state changed by feature code", "ext", ext, "code", callee)
	return true, prompt, "feature_" + prompt
}
