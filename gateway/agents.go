package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
// even when Redis was empty or down at start.
type Bindings struct {
	Store *routing.Store
	Dir   *agents.Directory
}

var _ registrar.Bindings = Bindings{}

// SetBinding implements registrar.Bindings.
func (b Bindings) SetBinding(ctx context.Context, ext string, rb registrar.Binding, ttl time.Duration) error {
	if a, ok := b.Dir.Lookup(ext); ok {
		if err := b.Store.SetSkills(ctx, ext, a.Skills); err != nil {
			return fmt.Errorf("set skills of %s: %w", ext, err)
		}
	}
	return b.Store.SetBinding(ctx, ext, routing.Binding{
		Contact: rb.Contact, Source: rb.Source, Transport: strings.ToLower(rb.Transport), Expires: rb.Expires,
	}, ttl)
}

// Sync writes every directory agent's skills to the store, so agents who
// have not registered yet show as offline and a skill edit reaches Redis
// at start. A failure (Redis down) is not fatal: SetBinding syncs again at
// each registration.
func (b Bindings) Sync(ctx context.Context) error {
	var errs []error
	for _, a := range b.Dir.All() {
		if err := b.Store.SetSkills(ctx, a.Extension, a.Skills); err != nil {
			errs = append(errs, fmt.Errorf("agent %s: %w", a.Extension, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveBinding implements registrar.Bindings.
func (b Bindings) RemoveBinding(ctx context.Context, ext string) error {
	return b.Store.RemoveBinding(ctx, ext)
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
