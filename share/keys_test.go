package share

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/handrail-dev/handrail/steps"
)

// newPubKey returns a fresh ed25519 public key and its authorized_keys
// spelling without a comment.
func newPubKey(t testing.TB) (gossh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSuffix(string(gossh.MarshalAuthorizedKey(k)), "\n")
}

func TestParseKeys(t *testing.T) {
	alice, aliceLine := newPubKey(t)
	bob, bobLine := newPubKey(t)
	stranger, _ := newPubKey(t)
	file := "# pair partners for the Connect deploys\n\n" +
		aliceLine + " alice approver\n" +
		"   " + bobLine + "  Bob  van Dijk   OBSERVER  \n"
	ks, err := ParseKeys(strings.NewReader(file), "partners")
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.List) != 2 {
		t.Fatalf("want 2 keys, got %+v", ks.List)
	}
	a, ok := ks.Lookup(alice)
	if !ok || a.Name != "alice" || a.Role != steps.RoleApprover || a.Line != 3 || a.Fingerprint != gossh.FingerprintSHA256(alice) {
		t.Errorf("alice: %+v %v", a, ok)
	}
	b, ok := ks.Lookup(bob)
	if !ok || b.Name != "Bob van Dijk" || b.Role != steps.RoleObserver || b.Line != 4 {
		t.Errorf("bob: %+v %v", b, ok)
	}
	if _, ok := ks.Lookup(stranger); ok {
		t.Error("a key not in the file was found")
	}
	if _, ok := ks.Lookup(nil); ok {
		t.Error("a nil key was found")
	}
	if p := a.Partner(); p.Name != "alice" || p.Role != steps.RoleApprover || p.Fingerprint != a.Fingerprint || p.ID != 0 {
		t.Errorf("Partner() = %+v", p)
	}
}

// TestParseKeysRefuses: every bad line is reported, with its line and a
// hint, and none is skipped over silently.
func TestParseKeysRefuses(t *testing.T) {
	_, line := newPubKey(t)
	_, other := newPubKey(t)
	cases := []struct {
		name, line, want string
	}{
		{"no comment", line, "no name and role"},
		{"default ssh-keygen comment", line + " root@laptop", `"root@laptop" does not end with a role`},
		{"unknown role", line + " alice admin", "the last word must be observer or approver"},
		{"role only", line + " observer", "no name before the role"},
		{"options", `from="10.0.0.0/8",no-pty ` + line + " alice observer", "key options (from=\"10.0.0.0/8\",no-pty) are not supported"},
		{"garbage", "ssh-ed25519 not-base64 alice observer", "not an OpenSSH public key line"},
		{"control character", line + " ali\x1b[31mce observer", "control or invisible character"},
		{"bidi override", line + " ali\u202ece observer", "control or invisible character"},
		{"long name", line + " " + strings.Repeat("a", maxNameRunes+1) + " observer", "longer than 64"},
		{"invalid utf-8", line + " ali\xffce observer", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := other + " ok observer\n" + c.line + "\n"
			_, err := ParseKeys(strings.NewReader(file), "keys")
			var ke *KeysError
			if !errors.As(err, &ke) || len(ke.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if p := ke.Problems[0]; p.Line != 2 || !strings.Contains(p.Msg, c.want) {
				t.Errorf("got %s:%d: %s\nwant line 2 containing %q", ke.Path, p.Line, p.Msg, c.want)
			}
			if !strings.HasPrefix(err.Error(), "keys:2: ") {
				t.Errorf("error %q should name keys:2", err)
			}
		})
	}
}

func TestParseKeysAllProblemsAtOnce(t *testing.T) {
	_, line := newPubKey(t)
	file := line + " alice observer\n" + line + " alice-laptop approver\n" + "junk\n" + line + "\n"
	_, err := ParseKeys(strings.NewReader(file), "k")
	var ke *KeysError
	if !errors.As(err, &ke) {
		t.Fatal(err)
	}
	if len(ke.Problems) != 3 || ke.Problems[0].Line != 2 || ke.Problems[1].Line != 3 || ke.Problems[2].Line != 4 ||
		!strings.Contains(ke.Problems[0].Msg, "already listed on line 1 (as alice)") {
		t.Errorf("problems: %+v", ke.Problems)
	}
}

func TestParseKeysRefusesCertificates(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := gossh.NewPublicKey(pub)
	ca, err := gossh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &gossh.Certificate{Key: k, CertType: gossh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: gossh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(string(gossh.MarshalAuthorizedKey(cert)), "\n") + " alice observer"
	_, err = ParseKeys(strings.NewReader(line), "k")
	if err == nil || !strings.Contains(err.Error(), "a certificate, not a public key") {
		t.Fatalf("want the certificate refused, got %v", err)
	}
	// And a certificate offered at login is not its key.
	_, keyLine := newPubKey(t)
	ks, err := ParseKeys(strings.NewReader(keyLine+" bob observer"), "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ks.Lookup(cert); ok {
		t.Error("Lookup accepted a certificate")
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	_, line := newPubKey(t)
	path := filepath.Join(dir, "partners")
	if err := os.WriteFile(path, []byte(line+" alice observer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := LoadKeys(path)
	if err != nil || len(ks.List) != 1 || ks.Path != path {
		t.Fatalf("LoadKeys: %v %+v", err, ks)
	}
	if err := os.Chmod(path, 0o664); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(path); err == nil || !strings.Contains(err.Error(), "writable by others than its owner (mode 0664)") || !strings.Contains(err.Error(), "chmod go-w") {
		t.Errorf("a group-writable keys file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(empty); err == nil || !strings.Contains(err.Error(), "lists no key, so no one could join") {
		t.Errorf("an empty keys file: %v", err)
	}
	if _, err := LoadKeys(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--share-keys") {
		t.Errorf("a missing keys file: %v", err)
	}
	if _, err := LoadKeys(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

// FuzzParseKeys: whatever the file holds, the parser does not panic, and
// what it accepts is a partner handrail can show and journal: a known
// role, a printable name, a fingerprint; written back as a line, it
// parses to the same partner.
func FuzzParseKeys(f *testing.F) {
	_, line := newPubKey(f)
	for _, seed := range []string{
		line + " alice approver\n",
		"# comment\n\n" + line + " Bob van Dijk observer\n",
		line + "\n",
		line + " root@laptop\n",
		`command="ls" ` + line + " alice observer\n",
		line + " alice observer\n" + line + " alice2 observer\n",
		"ssh-ed25519 AAAA alice observer",
		line + " al\x00ice observer",
		"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x observer\n",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file string) {
		ks, err := ParseKeys(strings.NewReader(file), "fuzz")
		if err != nil {
			var ke *KeysError
			if !errors.As(err, &ke) || len(ke.Problems) == 0 {
				t.Fatalf("an error without problems: %v", err)
			}
			return
		}
		for _, k := range ks.List {
			if !k.Role.Valid() || k.Name == "" || strings.IndexFunc(k.Name, notPrintable) >= 0 || !strings.HasPrefix(k.Fingerprint, "SHA256:") {
				t.Fatalf("accepted a bad partner: %+v", k)
			}
			again, err := ParseKeys(strings.NewReader(k.AuthorizedLine()), "again")
			if err != nil || len(again.List) != 1 {
				t.Fatalf("%q does not parse back: %v", k.AuthorizedLine(), err)
			}
			if g := again.List[0]; g.Name != k.Name || g.Role != k.Role || g.Fingerprint != k.Fingerprint {
				t.Fatalf("round trip: %+v became %+v", k, g)
			}
			if found, ok := ks.Lookup(k.PublicKey()); !ok || found.Line != k.Line {
				t.Fatalf("Lookup of line %d found %+v %v", k.Line, found, ok)
			}
		}
	})
}
