package share

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	gossh "golang.org/x/crypto/ssh"

	"github.com/handrail-dev/handrail/steps"
)

// The keys file (--share-keys) says who may join a shared session. It is
// an OpenSSH authorized_keys file restricted to what handrail enforces:
//
//	# comment lines and blank lines are ignored
//	ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... alice approver
//	ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ... Bob Smith observer
//
// One public key a line; its comment is the partner's name followed by
// their role (the last word: observer or approver). Key options
// (from="...", command="...", no-pty, ...) are refused rather than
// ignored: handrail would not enforce them, and a restriction that
// silently does nothing is worse than none. Certificates are refused for
// the same reason (handrail checks no certificate authority). A key listed
// twice is an error (which name would it be?); one person may have several
// keys.

// maxNameRunes bounds a partner's name: it is shown in headers and
// journaled with every join and leave.
const maxNameRunes = 64

// maxKeysLine bounds one line of the keys file (an RSA 16384-bit key is
// about 2.8 kB in base64).
const maxKeysLine = 16 << 10

// Key is one partner allowed to join: who, and the key they prove it with.
type Key struct {
	Name        string
	Role        steps.PartnerRole
	Fingerprint string // SHA256:... as ssh-keygen -l prints it
	Line        int    // in the keys file
	key         gossh.PublicKey
}

// PublicKey is the partner's SSH public key.
func (k Key) PublicKey() gossh.PublicKey { return k.key }

// AuthorizedLine is k as a line of the keys file.
func (k Key) AuthorizedLine() string {
	return strings.TrimSuffix(string(gossh.MarshalAuthorizedKey(k.key)), "\n") + " " + k.Name + " " + string(k.Role)
}

// Partner is the partner this key identifies (no connection yet).
func (k Key) Partner() steps.Partner {
	return steps.Partner{Name: k.Name, Role: k.Role, Fingerprint: k.Fingerprint}
}

// Keys is a parsed keys file.
type Keys struct {
	Path string
	List []Key
	by   map[string]int // marshaled public key -> index in List
}

// Lookup returns the partner who may join with key.
func (ks *Keys) Lookup(key gossh.PublicKey) (Key, bool) {
	if ks == nil || key == nil {
		return Key{}, false
	}
	if _, isCert := key.(*gossh.Certificate); isCert {
		return Key{}, false
	}
	i, ok := ks.by[string(key.Marshal())]
	if !ok {
		return Key{}, false
	}
	return ks.List[i], true
}

// KeysError lists every problem of a keys file, each with its line.
type KeysError struct {
	Path     string
	Problems []KeysProblem
}

// KeysProblem is one bad line.
type KeysProblem struct {
	Line int
	Msg  string
}

func (e *KeysError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s:%d: %s", e.Path, p.Line, p.Msg)
	}
	return b.String()
}

// LoadKeys reads the keys file at path. Like sshd's StrictModes, it
// refuses a file that others than its owner may write: whoever can add a
// line can watch the session (and, later, approve its writes).
func LoadKeys(path string) (*Keys, error) {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // the journal records which file it was
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--share-keys: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("--share-keys: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("--share-keys: %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o022 != 0 {
		return nil, fmt.Errorf("--share-keys: %s is writable by others than its owner (mode %04o), so anyone who can write it could join; run chmod go-w %s", path, perm, path)
	}
	ks, err := ParseKeys(f, path)
	if err != nil {
		return nil, err
	}
	if len(ks.List) == 0 {
		return nil, fmt.Errorf("--share-keys: %s lists no key, so no one could join; add one line per partner: TYPE KEY NAME ROLE (role observer or approver)", path)
	}
	return ks, nil
}

// ParseKeys parses a keys file; name is used in messages. Every problem is
// reported at once (*KeysError), none is skipped over.
func ParseKeys(r io.Reader, name string) (*Keys, error) {
	ks := &Keys{Path: name, by: map[string]int{}}
	kerr := &KeysError{Path: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxKeysLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, msg := parseKeyLine(line)
		if msg == "" {
			if prev, dup := ks.by[string(k.key.Marshal())]; dup {
				msg = fmt.Sprintf("this key is already listed on line %d (as %s); list each key once", ks.List[prev].Line, ks.List[prev].Name)
			}
		}
		if msg != "" {
			kerr.Problems = append(kerr.Problems, KeysProblem{Line: n, Msg: msg})
			continue
		}
		k.Line = n
		ks.by[string(k.key.Marshal())] = len(ks.List)
		ks.List = append(ks.List, k)
	}
	if err := sc.Err(); err != nil {
		kerr.Problems = append(kerr.Problems, KeysProblem{Line: n + 1, Msg: fmt.Sprintf("cannot read it: %v (a line may be at most %d bytes)", err, maxKeysLine)})
	}
	if len(kerr.Problems) > 0 {
		return nil, kerr
	}
	return ks, nil
}

// parseKeyLine parses one non-blank, non-comment line; msg says what is
// wrong with it.
func parseKeyLine(line []byte) (k Key, msg string) {
	if !utf8.Valid(line) {
		return k, "not valid UTF-8"
	}
	pub, comment, options, rest, err := gossh.ParseAuthorizedKey(line)
	switch {
	case err != nil:
		return k, "not an OpenSSH public key line (TYPE BASE64 NAME ROLE, e.g. ssh-ed25519 AAAA... alice observer)"
	case len(options) > 0:
		return k, fmt.Sprintf("key options (%s) are not supported: handrail would not enforce them; remove them", strings.Join(options, ","))
	case len(rest) > 0:
		return k, "more than one key on the line; put each key on its own line"
	}
	if _, isCert := pub.(*gossh.Certificate); isCert {
		return k, "a certificate, not a public key: handrail checks no certificate authority; list the partner's public key"
	}
	name, role, msg := nameAndRole(comment)
	if msg != "" {
		return k, msg
	}
	return Key{Name: name, Role: role, Fingerprint: gossh.FingerprintSHA256(pub), key: pub}, ""
}

// nameAndRole splits a key's comment into the partner's name and role.
func nameAndRole(comment string) (string, steps.PartnerRole, string) {
	roles := fmt.Sprintf("%s or %s", steps.RoleObserver, steps.RoleApprover)
	words := strings.Fields(comment)
	if len(words) == 0 {
		return "", "", "no name and role after the key: end the line with the partner's name and role, e.g. alice " + string(steps.RoleObserver)
	}
	role := steps.PartnerRole(strings.ToLower(words[len(words)-1]))
	if !role.Valid() {
		return "", "", fmt.Sprintf("%q does not end with a role: the last word must be %s (e.g. %s %s)",
			comment, roles, words[0], steps.RoleObserver)
	}
	name := strings.Join(words[:len(words)-1], " ")
	switch {
	case name == "":
		return "", "", fmt.Sprintf("no name before the role %s: e.g. alice %s", role, role)
	case utf8.RuneCountInString(name) > maxNameRunes:
		return "", "", fmt.Sprintf("the name is longer than %d characters", maxNameRunes)
	case strings.IndexFunc(name, notPrintable) >= 0:
		return "", "", fmt.Sprintf("the name %q has a control or invisible character", name)
	}
	return name, role, ""
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }

// OperatorKeys are the SHA-256 fingerprints of the operator's own SSH
// public keys (home/.ssh/*.pub): a partner who authenticates with one of
// them is the operator, who may not approve their own change. Files that
// do not parse are passed over.
func OperatorKeys(home string) []string {
	if home == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(home, ".ssh", "*.pub"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) > maxKeysLine {
			continue
		}
		pub, _, _, _, err := gossh.ParseAuthorizedKey(b)
		if err != nil {
			continue
		}
		out = append(out, gossh.FingerprintSHA256(pub))
	}
	return out
}
