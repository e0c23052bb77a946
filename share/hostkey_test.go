package share

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

func TestHostKeyCreatedOnceAndKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "handrail", HostKeyName)
	h, err := LoadOrCreateHostKey(path)
	if err != nil || !h.Created {
		t.Fatalf("first load: %v created=%v", err, h.Created)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v mode %v", err, st.Mode())
	}
	if d, _ := os.Stat(filepath.Dir(path)); d.Mode().Perm() != 0o700 {
		t.Errorf("the key's directory has mode %v, want 0700", d.Mode().Perm())
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := gossh.ParseAuthorizedKey(pub)
	if err != nil || gossh.FingerprintSHA256(k) != h.Fingerprint() {
		t.Errorf("the .pub file does not hold the host key: %v", err)
	}
	again, err := LoadOrCreateHostKey(path)
	if err != nil || again.Created || again.Fingerprint() != h.Fingerprint() {
		t.Errorf("second load: %v created=%v, %s vs %s", err, again.Created, again.Fingerprint(), h.Fingerprint())
	}
	if !strings.HasPrefix(h.Fingerprint(), "SHA256:") {
		t.Errorf("fingerprint %q", h.Fingerprint())
	}
}

func TestHostKeyRefusedWhenOthersMayRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), HostKeyName)
	if _, err := LoadOrCreateHostKey(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreateHostKey(path)
	if err == nil || !strings.Contains(err.Error(), "may be read by others (mode 0644)") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a readable host key: %v", err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateHostKey(path); err == nil || !strings.Contains(err.Error(), "not a usable private key") {
		t.Errorf("a broken host key: %v", err)
	}
}

// TestHostKeyConcurrentCreation: two processes starting a shared session
// at once end up with one host key, whole.
func TestHostKeyConcurrentCreation(t *testing.T) {
	path := filepath.Join(t.TempDir(), HostKeyName)
	const n = 8
	fps := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			h, err := LoadOrCreateHostKey(path)
			errs[i] = err
			if err == nil {
				fps[i] = h.Fingerprint()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || fps[i] != fps[0] {
			t.Errorf("loader %d: %v %s (loader 0: %s)", i, errs[i], fps[i], fps[0])
		}
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".share_host_key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestDefaultHostKeyPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	p, err := DefaultHostKeyPath(env(map[string]string{"XDG_STATE_HOME": "/var/state", "HOME": "/home/a"}))
	if err != nil || p != "/var/state/handrail/share_host_ed25519" {
		t.Errorf("with XDG_STATE_HOME: %q %v", p, err)
	}
	p, err = DefaultHostKeyPath(env(map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/a"}))
	if err != nil || p != "/home/a/.local/state/handrail/share_host_ed25519" {
		t.Errorf("a relative XDG_STATE_HOME is ignored, as the XDG spec says: %q %v", p, err)
	}
}

func TestListenAddr(t *testing.T) {
	for _, c := range []struct {
		in, addr string
		loopback bool
		err      string
	}{
		{":2222", "127.0.0.1:2222", true, ""},
		{"2222", "127.0.0.1:2222", true, ""},
		{"127.0.0.1:2222", "127.0.0.1:2222", true, ""},
		{"localhost:2222", "localhost:2222", true, ""},
		{"[::1]:2222", "[::1]:2222", true, ""},
		{"0.0.0.0:2222", "0.0.0.0:2222", false, ""},
		{"[::]:2222", "[::]:2222", false, ""},
		{"10.0.0.5:2222", "10.0.0.5:2222", false, ""},
		{"host", "", false, "want [HOST]:PORT"},
		{":ssh", "", false, "must be a number"},
		{":70000", "", false, "must be a number"},
	} {
		addr, lo, err := ListenAddr(c.in)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ListenAddr(%q) error %v, want %q", c.in, err, c.err)
			}
		case err != nil || addr != c.addr || lo != c.loopback:
			t.Errorf("ListenAddr(%q) = %q, %v, %v; want %q, %v", c.in, addr, lo, err, c.addr, c.loopback)
		}
	}
}
