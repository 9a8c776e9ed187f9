package agents

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const shipped = "../configs/agents.yaml"

func TestHA1KnownVectors(t *testing.T) {
	tests := []struct {
		name, user, realm, pass, want string
		fn                            func(u, r, p string) string
	}{
		// RFC 2617 §3.5 (HA1 checked with md5sum).
		{"md5 rfc2617", "Mufasa", "testrealm@host.com", "Circle Of Life", "939e7578ed9e3c518a452acee763bce9", HA1MD5},
		// RFC 7616 §3.9.1 (HA1 checked with sha256sum).
		{"sha256 rfc7616", "Mufasa", "http-auth@example.org", "Circle of Life", "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232", HA1SHA256},
		{"md5 demo", "1001", "ivrgw", "demo1001", "a0794c870a94387ae7c0069eb0fc4aa8", HA1MD5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.user, tt.realm, tt.pass); got != tt.want {
				t.Errorf("HA1(%q, %q, %q) = %s, want %s", tt.user, tt.realm, tt.pass, got, tt.want)
			}
		})
	}
}

func TestLoadShipped(t *testing.T) {
	d, err := Load(shipped)
	if err != nil {
		t.Fatalf("Load(%s) = %v, want nil", shipped, err)
	}
	if d.Realm() != DefaultRealm {
		t.Errorf("Realm() = %q, want %q", d.Realm(), DefaultRealm)
	}
	want := []struct {
		ext, name string
		skills    []string
	}{
		{"1001", "Alice", []string{"billing", "support"}},
		{"1002", "Bob", []string{"support"}},
		{"1003", "Carmen", []string{"support", "es"}},
	}
	if got := len(d.All()); got != len(want) {
		t.Fatalf("len(All()) = %d, want %d", got, len(want))
	}
	for i, w := range want {
		a, ok := d.Lookup(w.ext)
		if !ok {
			t.Fatalf("Lookup(%s) = _, false, want true", w.ext)
		}
		if a.Name != w.name || !slices.Equal(a.Skills, w.skills) || !a.Demo {
			t.Errorf("Lookup(%s) = %+v, want name %s skills %v demo true", w.ext, a, w.name, w.skills)
		}
		pass := "demo" + w.ext
		if got := HA1MD5(w.ext, DefaultRealm, pass); a.HA1MD5 != got {
			t.Errorf("Lookup(%s).HA1MD5 = %s, want %s", w.ext, a.HA1MD5, got)
		}
		if got := HA1SHA256(w.ext, DefaultRealm, pass); a.HA1SHA256 != got {
			t.Errorf("Lookup(%s).HA1SHA256 = %s, want %s", w.ext, a.HA1SHA256, got)
		}
		if d.All()[i].Extension != w.ext {
			t.Errorf("All()[%d].Extension = %s, want %s (file order)", i, d.All()[i].Extension, w.ext)
		}
	}
	raw, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"demo1001", "demo1002", "demo1003"} {
		// The comments name the demo passwords; no value may hold one.
		for _, line := range strings.Split(string(raw), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, pass) {
				t.Errorf("shipped file stores %q in a value: %q", pass, line)
			}
		}
	}
	if _, ok := d.Lookup("9999"); ok {
		t.Errorf("Lookup(9999) = _, true, want false")
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown_key", []string{`5:5: unknown field "password"`}},
		{"unknown_ha1_key", []string{`7:7: unknown field "sha1"`}},
		{"dup_ext", []string{`7:16: agent 2: extension: 1001 already defined at 4:16`}},
		{"dup_key", []string{`2:1: mapping key "realm" already defined at [1:1]`}},
		{"missing_ha1", []string{
			`3:5: agent 1: ha1.md5: required (HA1 hash, never a password)`,
			`3:5: agent 1: ha1.sha256: required (HA1 hash, never a password)`,
			`8:7: agent 2: ha1.sha256: required (HA1 hash, never a password)`,
		}},
		{"bad_hash", []string{
			`6:12: agent 1: ha1.md5: must be exactly 32 hex digits (got 32 characters)`,
			`7:15: agent 1: ha1.sha256: must be exactly 64 hex digits (got 16 characters)`,
		}},
		{"many", []string{
			`4:5: agent 1: name: required`,
			`4:16: agent 1: extension: "10a1" must be 2-15 digits`,
			`5:14: agent 1: skills: "Billing" must be a lowercase token (a-z, 0-9, '-', '_')`,
			`5:32: agent 1: skills: "support" listed twice`,
			`8:16: agent 2: extension: write 0012 as a quoted string of digits`,
		}},
		{"no_realm", []string{`1:1: realm: required (the digest realm the HA1 hashes were computed for)`}},
		{"syntax", []string{`3:11: sequence end token ']' not found`}},
		{"two_docs", []string{`2:1: only one YAML document is allowed`}},
		{"wrong_type", []string{`5:11: cannot unmarshal string into Go struct field fileDoc.Agents of type bool`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file+".yaml")
			d, err := Load(path)
			if d != nil {
				t.Errorf("Load(%s) directory = %v, want nil", path, d)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("Load(%s) = %v, want *LoadError", path, err)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ":" + w
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
				t.Errorf("Load(%s) =\n%s\nwant\n%s", path, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	d, err := Load("testdata/good/empty_skills.yaml")
	if err != nil {
		t.Fatalf("Load(empty_skills) = %v, want nil", err)
	}
	a, ok := d.Lookup("2001")
	if !ok {
		t.Fatal("Lookup(2001) = _, false, want true")
	}
	if len(a.Skills) != 0 || a.Name != "Zoë O'Brien" || a.Demo {
		t.Errorf("Lookup(2001) = %+v, want no skills, name Zoë O'Brien, demo false", a)
	}
	// Upper-case hex is accepted and normalised.
	if a.HA1SHA256 != strings.ToLower(a.HA1SHA256) {
		t.Errorf("Lookup(2001).HA1SHA256 = %s, want lower case", a.HA1SHA256)
	}
	// An unquoted integer whose text is the extension itself is fine.
	if _, ok := d.Lookup("2002"); !ok {
		t.Error("Lookup(2002) = _, false, want true")
	}
	// The directory does not share memory with callers.
	a.Skills = append(a.Skills, "x")
	all := d.All()
	all[0].Skills = append(all[0].Skills, "y")
	if b, _ := d.Lookup("2001"); len(b.Skills) != 0 {
		t.Errorf("Lookup(2001).Skills = %v after caller mutation, want []", b.Skills)
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p, err := GeneratePassword()
		if err != nil {
			t.Fatalf("GeneratePassword() error %v", err)
		}
		if len(p) != PasswordLength {
			t.Fatalf("len(GeneratePassword()) = %d, want %d", len(p), PasswordLength)
		}
		if i := strings.IndexFunc(p, func(r rune) bool { return !strings.ContainsRune(passwordAlphabet, r) }); i >= 0 {
			t.Fatalf("GeneratePassword() = %q, has %q outside the alphabet", p, p[i])
		}
		if seen[p] {
			t.Fatalf("GeneratePassword() repeated %q", p)
		}
		seen[p] = true
	}
	for _, c := range "0Oo1lIi" {
		if strings.ContainsRune(passwordAlphabet, c) {
			t.Errorf("passwordAlphabet contains ambiguous %q", c)
		}
	}
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "agents.yaml")
	if err := os.WriteFile(dst, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestAddAgent(t *testing.T) {
	path := copyFile(t, shipped)
	before, _ := os.ReadFile(path)

	pass, err := AddAgent(path, "1004", `Dana "D" Smith`, []string{"support", "es"}, DefaultRealm)
	if err != nil {
		t.Fatalf("AddAgent(1004) = %v, want nil", err)
	}
	if len(pass) != PasswordLength {
		t.Errorf("AddAgent(1004) password %q, want %d characters", pass, PasswordLength)
	}
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, before) {
		t.Errorf("AddAgent rewrote existing content; want it appended after the original bytes")
	}
	if bytes.Contains(after, []byte(pass)) {
		t.Errorf("AddAgent stored the plain password in the file")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("AddAgent file mode = %v, want 0640 kept", st.Mode().Perm())
	}
	d, err := Load(path)
	if err != nil {
		t.Fatalf("Load after AddAgent = %v", err)
	}
	a, ok := d.Lookup("1004")
	if !ok {
		t.Fatal("Lookup(1004) after AddAgent = _, false, want true")
	}
	if a.Name != `Dana "D" Smith` || a.Demo || !slices.Equal(a.Skills, []string{"support", "es"}) {
		t.Errorf("Lookup(1004) = %+v, want Dana \"D\" Smith, not demo, skills [support es]", a)
	}
	if want := HA1MD5("1004", DefaultRealm, pass); a.HA1MD5 != want {
		t.Errorf("Lookup(1004).HA1MD5 = %s, want %s", a.HA1MD5, want)
	}
	if want := HA1SHA256("1004", DefaultRealm, pass); a.HA1SHA256 != want {
		t.Errorf("Lookup(1004).HA1SHA256 = %s, want %s", a.HA1SHA256, want)
	}
	// A second one appends after the first, with no skills.
	if _, err := AddAgent(path, "1005", "Eve", nil, DefaultRealm); err != nil {
		t.Fatalf("AddAgent(1005) = %v", err)
	}
	if d, err := Load(path); err != nil || len(d.All()) != 5 {
		t.Fatalf("Load after two adds = %v agents, %v; want 5, nil", d, err)
	}
}

func TestAddAgentErrors(t *testing.T) {
	const m = "a0794c870a94387ae7c0069eb0fc4aa8"
	const s = "3662564deb5b557a1c03767465dfed7771da1b382afdfad48addf0b5284deebc"
	valid := "realm: ivrgw\nagents:\n  - name: A\n    extension: \"1001\"\n    ha1: {md5: " + m + ", sha256: " + s + "}\n"
	tests := []struct {
		name, content, ext, agent, realm string
		skills                           []string
		wantErr                          string
	}{
		{"duplicate", valid, "1001", "X", "ivrgw", nil, "already exists"},
		{"wrong realm", valid, "1004", "X", "other", nil, "realm-bound"},
		{"bad extension", valid, "10x4", "X", "ivrgw", nil, "must be 2-15 digits"},
		{"bad skill", valid, "1004", "X", "ivrgw", []string{"Sales"}, "lowercase token"},
		{"bad name", valid, "1004", "X\r\nY", "ivrgw", nil, "printable"},
		{"agents not last", "agents: []\nrealm: ivrgw\n", "1004", "X", "ivrgw", nil, "last top-level key"},
		{"flow list", "realm: ivrgw\nagents: []\n", "1004", "X", "ivrgw", nil, "flow-style"},
		{"invalid file", "realm: ivrgw\nagents:\n  - bogus: 1\n", "1004", "X", "ivrgw", nil, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agents.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			pass, err := AddAgent(path, tt.ext, tt.agent, tt.skills, tt.realm)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("AddAgent(%s) = %q, %v; want error containing %q", tt.ext, pass, err, tt.wantErr)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content {
				t.Errorf("AddAgent(%s) changed the file on error:\n%s", tt.ext, got)
			}
		})
	}
}

func TestAddAgentNullList(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.yaml")
	if err := os.WriteFile(path, []byte("# no agents yet\nrealm: ivrgw\nagents:"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := AddAgent(path, "1004", "Dana", []string{"support"}, "ivrgw"); err != nil {
		t.Fatalf("AddAgent to empty list = %v, want nil", err)
	}
	d, err := Load(path)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if _, ok := d.Lookup("1004"); !ok {
		t.Error("Lookup(1004) = _, false, want true")
	}
}

func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"testdata/bad/*.yaml", "testdata/good/*.yaml", shipped} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<14 {
			return
		}
		d, err := parse("fuzz.yaml", data)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) || len(le.Problems) == 0 {
				t.Fatalf("parse error %v, want *LoadError with problems", err)
			}
			for _, p := range le.Problems {
				if p.Line < 1 || p.Col < 1 || p.Msg == "" {
					t.Fatalf("problem %+v, want line, col >= 1 and a message", p)
				}
			}
			return
		}
		// Whatever parses must satisfy the invariants the registrar relies on.
		if !validRealm(d.Realm()) {
			t.Fatalf("accepted realm %q", d.Realm())
		}
		for _, a := range d.All() {
			if !validExtension(a.Extension) || !validName(a.Name) || !validHex(a.HA1MD5, 32) || !validHex(a.HA1SHA256, 64) {
				t.Fatalf("accepted invalid agent %+v", a)
			}
			if got, ok := d.Lookup(a.Extension); !ok || got.Name != a.Name {
				t.Fatalf("Lookup(%s) = %+v, %v", a.Extension, got, ok)
			}
		}
	})
}
