package share

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// HostKeyName is the host key's file name under handrail's state
// directory; HostKeyName+".pub" holds its public half.
const HostKeyName = "share_host_ed25519"

// DefaultHostKeyPath is $XDG_STATE_HOME/handrail/share_host_ed25519, or
// ~/.local/state/handrail/share_host_ed25519: beside the journals'
// default directory (…/handrail/sessions), by the same rule.
func DefaultHostKeyPath(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "handrail", HostKeyName), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no place for the SSH host key: %w; set XDG_STATE_HOME or HOME", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "handrail", HostKeyName), nil
}

// HostKey is the share server's SSH host key.
type HostKey struct {
	Path    string
	Signer  gossh.Signer
	Created bool // generated now (partners have never seen it)
}

// Fingerprint is the key's SHA256 fingerprint, as ssh prints it when it
// asks a partner to trust the host.
func (h HostKey) Fingerprint() string { return gossh.FingerprintSHA256(h.Signer.PublicKey()) }

// LoadOrCreateHostKey reads the host key at path, or generates an ed25519
// key there (mode 0600, its directory 0700) when there is none, so
// partners see the same host key every session and ssh's known_hosts
// check means something. A key file others may read is refused, as ssh
// refuses an unprotected private key. Two handrail processes creating it
// at once end up with the same key: it appears whole (link(2) of a
// complete file) or not at all.
func LoadOrCreateHostKey(path string) (HostKey, error) {
	h := HostKey{Path: path}
	signer, err := readHostKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createHostKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return h, fmt.Errorf("creating the SSH host key %s: %w", path, err)
		} else if err == nil {
			h.Created = true
		}
		signer, err = readHostKey(path)
	}
	if err != nil {
		return h, err
	}
	h.Signer = signer
	writePublicHalf(path, signer.PublicKey())
	return h, nil
}

func readHostKey(path string) (gossh.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("the SSH host key %s may be read by others (mode %04o); run chmod 600 %s", path, perm, path)
	}
	b := make([]byte, min(st.Size(), 64<<10))
	n, err := f.ReadAt(b, 0)
	if err != nil && n != len(b) {
		return nil, fmt.Errorf("reading the SSH host key %s: %w", path, err)
	}
	signer, err := gossh.ParsePrivateKey(b[:n])
	if err != nil {
		return nil, fmt.Errorf("the SSH host key %s is not a usable private key (%v); move it away and handrail makes a new one (partners will be asked to trust the new key)", path, err)
	}
	return signer, nil
}

// createHostKey writes a new key to a temporary file in the same
// directory, syncs it, then links it into place, failing with
// fs.ErrExist when another process got there first.
func createHostKey(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	comment := "handrail share host key"
	if host != "" {
		comment += " on " + host
	}
	block, err := gossh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".share_host_key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(pem.EncodeToMemory(block)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	return nil
}

// writePublicHalf writes path.pub when it is missing (best effort: the
// fingerprint is printed and journaled anyway), for known_hosts files and
// ssh-keygen -lf.
func writePublicHalf(path string, pub gossh.PublicKey) {
	if _, err := os.Stat(path + ".pub"); err == nil {
		return
	}
	line := strings.TrimSuffix(string(gossh.MarshalAuthorizedKey(pub)), "\n") + " handrail share host key\n"
	_ = os.WriteFile(path+".pub", []byte(line), 0o644)
}
