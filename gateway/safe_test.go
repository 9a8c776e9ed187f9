package gateway

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGroupRecovers: a panic in one of a call's goroutines becomes the
// group's error, cancels the call's context (so the call ends and is hung
// up) and is logged with its stack; the process goes on.
func TestGroupRecovers(t *testing.T) {
	var logs bytes.Buffer
	g, ctx := newGroup(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	stopped := make(chan struct{})
	g.Go("sibling", func() error {
		<-ctx.Done() // a well-behaved goroutine of the same call
		close(stopped)
		return nil
	})
	g.Go("hold music", func() error { panic("boom") })
	err := g.Wait()
	if !errors.Is(err, errPanic) || !strings.Contains(err.Error(), "hold music") {
		t.Errorf("Wait() = %v, want errPanic naming the goroutine", err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the call's context was not cancelled by the panic")
	}
	for _, want := range []string{"call goroutine panicked", "goroutine=\"hold music\"", "panic=boom", "safe_test.go"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestNoBareGoroutines: the gateway starts a call's goroutines only through
// its group (Leg.Go, group.Go), never with a bare go statement or a
// WaitGroup.Go, which would escape the recover and the call's Wait.
func TestNoBareGoroutines(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: bare go statement: start it in the call's group", fset.Position(n.Pos()))
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Go" {
					if id, ok := sel.X.(*ast.Ident); ok && (id.Name == "wg" || id.Name == "errgroup") {
						t.Errorf("%s: %s.Go outside the call's group", fset.Position(n.Pos()), id.Name)
					}
				}
			}
			return true
		})
	}
}
