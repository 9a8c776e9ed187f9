package ivr

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const (
	menuV1  = "settings: {languages: [en]}\nmenus: {main: {prompt: [main_menu], options: {1: repeat, 2: transfer}}}\n"
	menuV2  = "settings: {languages: [en], max_tries: 2}\nmenus: {main: {prompt: [main_menu_short], options: {1: repeat, 2: transfer}}}\n"
	menuBad = "settings: {languages: [en]}\nmenus: {main: {prompt: [main_menu], options: {1: {menu: gone}}}}\n"
)

func writeMenu(t *testing.T, path, src string, mod time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Set the time explicitly: two writes within the file system's clock
	// resolution must still look different to the poller.
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "menu.yaml")
	base := time.Now()
	writeMenu(t, path, menuV1, base)
	r, err := NewReloader(path, testCatalog(), nil)
	if err != nil {
		t.Fatalf("NewReloader = %v", err)
	}
	first := r.Current()
	if got := first.Menus["main"].Prompt[0]; got != "main_menu" {
		t.Fatalf("Current() prompt = %q, want main_menu", got)
	}

	writeMenu(t, path, menuBad, base.Add(time.Second))
	err = r.Reload()
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Msg, `menu "gone" does not exist`) {
		t.Fatalf("Reload(bad) = %v, want one Problem about menu gone", err)
	}
	if r.Current() != first {
		t.Errorf("Reload(bad) replaced the config, want the old one kept")
	}

	writeMenu(t, path, menuV2, base.Add(2*time.Second))
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload(good) = %v", err)
	}
	if got := r.Current().MaxTries; got != 2 {
		t.Errorf("after Reload, MaxTries = %d, want 2", got)
	}
	// A call that started on the old snapshot still has it.
	if got := first.Menus["main"].Prompt[0]; got != "main_menu" {
		t.Errorf("old snapshot changed: prompt = %q, want main_menu", got)
	}

	os.Remove(path)
	if err := r.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload(missing file) = %v, want os.ErrNotExist", err)
	}
	if r.Current().MaxTries != 2 {
		t.Errorf("Reload(missing file) dropped the config in service")
	}
}

func TestNewReloaderBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "menu.yaml")
	writeMenu(t, path, menuBad, time.Now())
	var ps Problems
	if _, err := NewReloader(path, nil, nil); !errors.As(err, &ps) {
		t.Errorf("NewReloader(bad) = %v, want Problems", err)
	}
}

// syncBuffer is a log sink shared by the watcher and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatch(t *testing.T) {
	dir := t.TempDir() // outside the bubble: its cleanup runs after it
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(dir, "menu.yaml")
		base := time.Now()
		writeMenu(t, path, menuV1, base)
		var logs syncBuffer
		r, err := NewReloader(path, testCatalog(), slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan struct{})
		go func() {
			r.Watch(ctx, 2*time.Second)
			close(stopped)
		}()

		steps := []struct {
			src      string
			wantMax  int
			wantLogs []string
		}{
			{menuV2, 2, []string{"menu reloaded"}},
			{menuBad, 2, []string{`menu problem`, `menu \"gone\" does not exist`, "old menu kept"}},
			{menuV1, 3, []string{"menu reloaded"}},
		}
		for i, s := range steps {
			writeMenu(t, path, s.src, base.Add(time.Duration(i+1)*time.Minute))
			time.Sleep(3 * time.Second) // more than one poll interval
			synctest.Wait()
			if got := r.Current().MaxTries; got != s.wantMax {
				t.Errorf("step %d: after Watch, MaxTries = %d, want %d", i, got, s.wantMax)
			}
			for _, w := range s.wantLogs {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("step %d: log lacks %q:\n%s", i, w, logs.String())
				}
			}
		}
		// An unchanged file is not read again: no new log lines.
		n := len(logs.String())
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if len(logs.String()) != n {
			t.Errorf("Watch logged with no change to the file:\n%s", logs.String()[n:])
		}
		cancel()
		<-stopped
	})
}

// TestRefreshLogsOnceAlike: a reload asked for by SIGHUP logs exactly what
// a file change does, once: one line per problem and one verdict naming the
// trigger; the outcomes are counted.
func TestRefreshLogsOnceAlike(t *testing.T) {
	path := filepath.Join(t.TempDir(), "menu.yaml")
	writeMenu(t, path, menuV1, time.Now())
	var logs syncBuffer
	r, err := NewReloader(path, testCatalog(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	writeMenu(t, path, menuBad, time.Now().Add(time.Minute))
	if err := r.Refresh("sighup"); err == nil {
		t.Fatal("Refresh(bad file) = nil, want its problems")
	}
	writeMenu(t, path, menuV2, time.Now().Add(2*time.Minute))
	if err := r.Refresh("file_change"); err != nil {
		t.Fatalf("Refresh(good file) = %v", err)
	}
	out := logs.String()
	for _, tt := range []struct {
		part string
		n    int
	}{
		{"menu reload refused, old menu kept", 1},
		{"trigger=sighup", 1},
		{"menu problem", 1},
		{"menu reloaded", 1},
		{"trigger=file_change", 1},
	} {
		if got := strings.Count(out, tt.part); got != tt.n {
			t.Errorf("log has %q %d times, want %d:\n%s", tt.part, got, tt.n, out)
		}
	}
	if ok, failed := r.Reloads(); ok != 1 || failed != 1 {
		t.Errorf("Reloads() = %d ok, %d failed, want 1, 1", ok, failed)
	}
}
