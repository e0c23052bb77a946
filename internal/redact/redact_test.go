package redact

import (
	"net/url"
	"testing"
	"time"
)

// kind is a named string type, as steps.EventType is.
type kind string

func TestRedactDeep(t *testing.T) {
	r := New([]string{"topsecret"})
	type inner struct {
		M  map[string]string
		A  [2]string
		I  any
		at time.Time
	}
	type outer struct {
		P *inner
		S []inner
		N kind
	}
	v := outer{P: &inner{M: map[string]string{"k topsecret": "v topsecret"}, A: [2]string{"x", "topsecret!"}, I: "i topsecret", at: time.Unix(0, 0)},
		S: []inner{{A: [2]string{"ok", "ok"}}, {I: 3}}, N: "topsecret"}
	got := Value(r, v)
	if got.P.M["k [redacted]"] != "v [redacted]" || got.P.A[1] != "[redacted]!" || got.P.I != "i [redacted]" || got.N != "[redacted]" {
		t.Errorf("not redacted: %+v %+v", got, got.P)
	}
	if v.P.A[1] != "topsecret!" || v.P.M["k topsecret"] != "v topsecret" || v.N != "topsecret" {
		t.Error("the original was modified")
	}
	if &got.S[0] != &v.S[0] {
		t.Error("an unchanged slice was copied")
	}
}

// Every spelling a connection string gives a password is hidden, and
// secrets too short to be told from ordinary text are left alone.
func TestStringSpellings(t *testing.T) {
	const pw = `p@ss w/rd'\x`
	r := New([]string{pw, "abc", ""})
	for in, want := range map[string]string{
		pw: Mask,
		"postgres://u:p%40ss%20w%2Frd%27%5Cx@h/d":      "postgres://u:" + Mask + "@h/d",   // userinfo
		"postgres://h/d?password=p%40ss+w%2Frd%27%5Cx": "postgres://h/d?password=" + Mask, // query
		`host=h password='p@ss w/rd\'\\x'`:             `host=h password='` + Mask + `'`,  // libpq-quoted
	} {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	if got := r.String("abc"); got != "abc" {
		t.Errorf("a 3-byte secret was redacted: %q", got)
	}
	var none *Redactor
	if none.String(pw) != pw || Value(none, pw) != pw || none.InJSON([]byte(pw)) {
		t.Error("a nil Redactor must leave everything alone")
	}
	if New([]string{"abc"}) != nil {
		t.Error("New with only short secrets should return nil")
	}
}

// Partial holds back exactly the end of a piece that starts a secret, in
// any of its spellings, so a secret cut between two pieces is redacted
// whole (SPEC 4.6); a piece with no such end holds nothing back.
func TestPartialHoldsTheStartOfASecret(t *testing.T) {
	const pw = `p@ss w/rd'\x`
	r := New([]string{pw})
	for _, spelling := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
		for c := 1; c < len(spelling); c++ {
			piece := "output: " + spelling[:c]
			if got := r.Partial([]byte(piece)); got != c {
				t.Errorf("Partial(%q) = %d, want %d", piece, got, c)
			}
			held := r.Partial([]byte(piece))
			first := r.String(piece[:len(piece)-held])
			rest := r.String(piece[len(piece)-held:] + spelling[c:] + " done")
			if first != "output: " || rest != Mask+" done" {
				t.Errorf("cut after %d bytes of %q: recorded %q + %q", c, spelling, first, rest)
			}
		}
	}
	if got := r.Partial([]byte("nothing secret here")); got != 0 {
		t.Errorf("Partial of plain text = %d, want 0", got)
	}
	var none *Redactor
	if none.Partial([]byte(pw[:3])) != 0 {
		t.Error("a nil Redactor must hold nothing back")
	}
}

// TestScannerIsInJSONOfTheWhole: a line given to a JSONScanner in pieces
// of any size holds a secret exactly when InJSON finds one in the whole
// line, the secret straddling seams included.
func TestScannerIsInJSONOfTheWhole(t *testing.T) {
	r := New([]string{"pa ss/wörd", "t0ken"})
	lines := []string{
		`{"sql":["select 1","select 2"]}`,
		`{"sql":["alter role x password 'pa ss/wörd'"]}`,
		`{"dsn":"postgres://u:pa%20ss%2Fw%C3%B6rd@h/db"}`,
		`{"text":"t0ken"}`,
		`{"text":"t0ke","more":"n t0kn"}`,
		`{"text":"pa ss/wör"}`,
	}
	for _, line := range lines {
		want := r.InJSON([]byte(line))
		for size := 1; size <= len(line); size++ {
			s := r.Scanner()
			for i := 0; i < len(line); i += size {
				s.Write([]byte(line[i:min(i+size, len(line))]))
			}
			if s.Found() != want {
				t.Fatalf("%s in pieces of %d: found %v, InJSON %v", line, size, s.Found(), want)
			}
		}
	}
	var none *Redactor
	if s := none.Scanner(); s != nil || s.Found() {
		t.Errorf("a nil redactor's scanner finds something")
	}
	none.Scanner().Write([]byte("x"))
}
