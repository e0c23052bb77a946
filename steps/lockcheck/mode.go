package lockcheck

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Mode is a PostgreSQL table-level lock mode, weakest to strongest. The
// zero value is "no lock".
type Mode uint8

// The eight table-level lock modes of PostgreSQL ("Explicit Locking",
// table 13.2 in the PostgreSQL documentation), in order of strength.
const (
	NoLock Mode = iota
	AccessShare
	RowShare
	RowExclusive
	ShareUpdateExclusive
	Share
	ShareRowExclusive
	Exclusive
	AccessExclusive
)

var modeNames = [...]string{
	NoLock:               "NONE",
	AccessShare:          "ACCESS SHARE",
	RowShare:             "ROW SHARE",
	RowExclusive:         "ROW EXCLUSIVE",
	ShareUpdateExclusive: "SHARE UPDATE EXCLUSIVE",
	Share:                "SHARE",
	ShareRowExclusive:    "SHARE ROW EXCLUSIVE",
	Exclusive:            "EXCLUSIVE",
	AccessExclusive:      "ACCESS EXCLUSIVE",
}

// String is the mode as the documentation and LOCK TABLE spell it:
// "ACCESS EXCLUSIVE".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", m)
}

// PgLocksName is the mode as pg_locks.mode spells it: "AccessExclusiveLock".
func (m Mode) PgLocksName() string {
	if m == NoLock || int(m) >= len(modeNames) {
		return ""
	}
	var b strings.Builder
	for _, w := range strings.Fields(modeNames[m]) {
		b.WriteString(w[:1] + strings.ToLower(w[1:]))
	}
	return b.String() + "Lock"
}

// ParsePgLocksMode maps a pg_locks.mode value ("ShareLock") to its Mode;
// ok is false for row-level and other non-table modes.
func ParsePgLocksMode(s string) (Mode, bool) {
	for m := AccessShare; m <= AccessExclusive; m++ {
		if m.PgLocksName() == s {
			return m, true
		}
	}
	return NoLock, false
}

// conflicts[m] is the set of modes m conflicts with, as a bit set
// (bit n for Mode n), from table 13.2 of the documentation.
var conflicts = [...]uint16{
	NoLock:               0,
	AccessShare:          bits(AccessExclusive),
	RowShare:             bits(Exclusive, AccessExclusive),
	RowExclusive:         bits(Share, ShareRowExclusive, Exclusive, AccessExclusive),
	ShareUpdateExclusive: bits(ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	Share:                bits(RowExclusive, ShareUpdateExclusive, ShareRowExclusive, Exclusive, AccessExclusive),
	ShareRowExclusive:    bits(RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	Exclusive:            bits(RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
	AccessExclusive:      bits(AccessShare, RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive),
}

func bits(ms ...Mode) uint16 {
	var b uint16
	for _, m := range ms {
		b |= 1 << m
	}
	return b
}

// Conflicts reports whether a lock in mode m and one in mode o on the same
// relation cannot be held at once by two transactions.
func (m Mode) Conflicts(o Mode) bool {
	if int(m) >= len(conflicts) {
		return false
	}
	return conflicts[m]&(1<<o) != 0
}

// Blocks says, for an operator, what ordinary traffic waits while m is
// held (or queued: a waiting lock request also makes later requests that
// conflict with it wait).
func (m Mode) Blocks() string {
	switch m {
	case AccessExclusive:
		return "every read and write"
	case Exclusive:
		return "writes and locking reads (plain SELECT continues)"
	case ShareRowExclusive, Share:
		return "INSERT, UPDATE and DELETE (reads continue)"
	case ShareUpdateExclusive:
		return "schema changes, VACUUM and index builds (reads and writes continue)"
	case RowExclusive:
		return "CREATE INDEX and stronger locks (reads and writes continue)"
	case RowShare, AccessShare:
		return "only EXCLUSIVE and ACCESS EXCLUSIVE locks"
	}
	return "nothing"
}

// BlocksWrites reports whether m makes INSERT, UPDATE and DELETE wait.
func (m Mode) BlocksWrites() bool { return m.Conflicts(RowExclusive) }

// BlocksReads reports whether m makes plain SELECT wait.
func (m Mode) BlocksReads() bool { return m.Conflicts(AccessShare) }

// MarshalText writes the documentation's name, so the journal and
// `check --json` read "ACCESS EXCLUSIVE".
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (m *Mode) UnmarshalText(b []byte) error {
	for i, n := range modeNames {
		if n == string(b) {
			*m = Mode(i)
			return nil
		}
	}
	return fmt.Errorf("unknown lock mode %q", b)
}

// Tri is a three-valued answer: no, yes, or not known (yet).
type Tri int8

// The values of Tri.
const (
	No Tri = iota
	Yes
	Unknown
)

func (t Tri) String() string {
	switch t {
	case Yes:
		return "yes"
	case Unknown:
		return "unknown"
	}
	return "no"
}

// MarshalJSON writes "yes", "no" or "unknown".
func (t Tri) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (t *Tri) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "yes":
		*t = Yes
	case "no":
		*t = No
	case "unknown":
		*t = Unknown
	default:
		return fmt.Errorf("tri: %q is not yes, no or unknown", s)
	}
	return nil
}

// or combines two answers about parts of one thing: yes if either is yes,
// else unknown if either is unknown.
func (t Tri) or(o Tri) Tri {
	switch {
	case t == Yes || o == Yes:
		return Yes
	case t == Unknown || o == Unknown:
		return Unknown
	}
	return No
}
