package ivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader keeps the menu in service and swaps in a new one when the
// file changes and validates. A call takes Current() once when it starts
// and keeps that snapshot: a reload never changes a menu under a caller.
type Reloader struct {
	path string
	cat  Catalog
	log  *slog.Logger
	cur  atomic.Pointer[Config]

	mu         sync.Mutex // serialises Reload
	stamp      fileStamp  // of the last file read, good or bad
	unreadable bool       // the last stat failed: said once, not every poll

	ok, failed atomic.Uint64 // Refresh outcomes
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewReloader loads path; it fails if the first load does.
func NewReloader(path string, cat Catalog, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{path: path, cat: cat, log: log}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Current is the menu in service.
func (r *Reloader) Current() *Config { return r.cur.Load() }

// Reload re-reads the file. On any problem it returns the error (Problems
// for a bad file) and the old menu stays in service.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, err := os.Stat(r.path); err == nil {
		r.stamp = fileStamp{st.ModTime(), st.Size()}
	}
	cfg, err := Load(r.path, r.cat)
	if err != nil {
		return fmt.Errorf("reload menu: %w", err)
	}
	r.cur.Store(cfg)
	return nil
}

// Watch polls the file's modification time and size every interval and
// reloads when either changes, until ctx ends. Polling rather than
// fsnotify: one stat a few seconds apart costs nothing and needs no
// dependency, and it sees editors that save by rename (FACTS.md) too.
// A bad file is logged once per change, one line per problem.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Stat(r.path)
		r.mu.Lock()
		was := r.unreadable
		r.unreadable = err != nil
		r.mu.Unlock()
		if err != nil {
			if !was {
				r.log.Warn("menu file unreadable, old menu kept", "path", r.path, "err", err)
			}
			continue
		}
		r.mu.Lock()
		changed := was || r.stamp != fileStamp{st.ModTime(), st.Size()}
		r.mu.Unlock()
		if !changed {
			continue
		}
		_ = r.Refresh("file_change")
	}
}

// Refresh reloads the file and logs the outcome, the same way whatever
// asked for it (trigger: "file_change", "sighup"): one line for a reload,
// and for a bad file one line per problem then one saying the old menu
// stays. It also counts the outcome (Reloads).
func (r *Reloader) Refresh(trigger string) error {
	err := r.Reload()
	if err == nil {
		r.ok.Add(1)
		r.log.Info("menu reloaded", "path", r.path, "trigger", trigger)
		return nil
	}
	r.failed.Add(1)
	var ps Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			r.log.Error("menu problem", "problem", p.String())
		}
		r.log.Error("menu reload refused, old menu kept", "path", r.path, "trigger", trigger, "problems", len(ps))
		return err
	}
	r.log.Error("menu reload refused, old menu kept", "path", r.path, "trigger", trigger, "err", err)
	return err
}

// Reloads counts Refresh outcomes since start.
func (r *Reloader) Reloads() (ok, failed uint64) { return r.ok.Load(), r.failed.Load() }
