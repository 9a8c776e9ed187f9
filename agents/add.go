package agents

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// passwordAlphabet leaves out characters that are easy to misread or mistype
// on a softphone's settings screen: 0/O/o, 1/l/I/i.
const passwordAlphabet = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"

// PasswordLength gives log2(55^16) ≈ 92 bits of entropy.
const PasswordLength = 16

// GeneratePassword returns a fresh random password from crypto/rand.
func GeneratePassword() (string, error) {
	out := make([]byte, 0, PasswordLength)
	buf := make([]byte, 32)
	// Rejection sampling keeps the choice uniform: bytes at or above the
	// largest multiple of len(alphabet) are discarded. Bounded: each byte is
	// kept with probability > 0.85, so 8 rounds of 32 bytes fail with
	// probability far below 1e-50.
	limit := byte(256 - 256%len(passwordAlphabet))
	for range 8 {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			if b >= limit {
				continue
			}
			out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			if len(out) == PasswordLength {
				return string(out), nil
			}
		}
	}
	return "", errors.New("generate password: not enough random bytes")
}

// AddAgent appends a new agent to the agents file at path and returns its
// freshly generated password, which is stored nowhere (only its HA1 hashes
// are): the caller prints it once.
//
// The file is edited as text, appending one list item after the last agent,
// so the operator's comments and layout survive; the result is validated with
// Load's rules before it replaces the file (atomically, by rename). realm must
// match the file's realm, because HA1 hashes are bound to it.
func AddAgent(path, ext, name string, skills []string, realm string) (password string, err error) {
	data, err := readBounded(path)
	if err != nil {
		return "", fmt.Errorf("add agent: %w", err)
	}
	dir, err := parse(path, data)
	if err != nil {
		return "", fmt.Errorf("add agent: existing file is invalid: %w", err)
	}
	if realm != dir.Realm() {
		return "", fmt.Errorf("add agent: realm %q differs from the file's realm %q (HA1 hashes are realm-bound)", realm, dir.Realm())
	}
	if !validExtension(ext) {
		return "", fmt.Errorf("add agent: extension %q must be 2-15 digits", ext)
	}
	if _, dup := dir.Lookup(ext); dup {
		return "", fmt.Errorf("add agent: extension %s already exists", ext)
	}
	if !validName(name) {
		return "", fmt.Errorf("add agent: name %q must be 1-64 printable characters", name)
	}
	for _, s := range skills {
		if !validSkill(s) {
			return "", fmt.Errorf("add agent: skill %q must be a lowercase token", s)
		}
	}

	indent, err := itemIndent(data)
	if err != nil {
		return "", fmt.Errorf("add agent: %s: %w", path, err)
	}
	password, err = GeneratePassword()
	if err != nil {
		return "", fmt.Errorf("add agent: %w", err)
	}

	var b bytes.Buffer
	b.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		b.WriteByte('\n')
	}
	pad := strings.Repeat(" ", indent)
	fmt.Fprintf(&b, "%s- name: %s\n", pad, yamlQuote(name))
	fmt.Fprintf(&b, "%s  extension: %q\n", pad, ext)
	fmt.Fprintf(&b, "%s  skills: [%s]\n", pad, strings.Join(skills, ", "))
	fmt.Fprintf(&b, "%s  demo: false\n", pad)
	fmt.Fprintf(&b, "%s  ha1:\n", pad)
	fmt.Fprintf(&b, "%s    md5: %s\n", pad, HA1MD5(ext, realm, password))
	fmt.Fprintf(&b, "%s    sha256: %s\n", pad, HA1SHA256(ext, realm, password))

	// Validate what will be written before touching the file.
	check, err := parse(path, b.Bytes())
	if err != nil {
		return "", fmt.Errorf("add agent: result would be invalid: %w", err)
	}
	if a, ok := check.Lookup(ext); !ok || a.Name != name || len(check.All()) != len(dir.All())+1 {
		return "", errors.New("add agent: appended agent not found in result (unexpected file layout)")
	}
	if err := writeAtomic(path, b.Bytes()); err != nil {
		return "", fmt.Errorf("add agent: %w", err)
	}
	return password, nil
}

// itemIndent finds the column at which the agents list's items start, and
// checks that appending at the end of the file extends that list: agents must
// be the last top-level key and a block sequence (or empty).
func itemIndent(data []byte) (int, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0, err
	}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return 0, errors.New("no agents list to append to")
	}
	var last *ast.MappingValueNode
	switch m := f.Docs[0].Body.(type) {
	case *ast.MappingNode:
		if len(m.Values) > 0 {
			last = m.Values[len(m.Values)-1]
		}
	case *ast.MappingValueNode:
		last = m
	}
	if last == nil || last.Key.GetToken() == nil || last.Key.GetToken().Value != "agents" {
		return 0, errors.New("agents must be the last top-level key to append to it")
	}
	switch v := last.Value.(type) {
	case *ast.SequenceNode:
		if v.IsFlowStyle {
			// Even an empty "[]" cannot be extended by appending lines.
			return 0, errors.New("agents is a flow-style list; rewrite it as a block list")
		}
		if v.Start == nil || v.Start.Position == nil {
			return 0, errors.New("agents list has no position")
		}
		return v.Start.Position.Column - 1, nil
	case *ast.NullNode:
		// "agents:" with nothing after it: start the list, two spaces in.
		return 2, nil
	default:
		return 0, errors.New("agents is not a list")
	}
}

// yamlQuote writes s as a YAML double-quoted scalar. validName has already
// excluded control characters, so escaping \ and " suffices.
func yamlQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// writeAtomic replaces path with data via a temporary file in the same
// directory and a rename, keeping the file's permission bits.
func writeAtomic(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	return nil
}
