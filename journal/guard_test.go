package journal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriterNoticesChangedJournal: when the journal is truncated, written
// to, deleted, replaced or moved under a running session, the next Append
// (for a move: the next fsynced one, which every write to the database
// waits for) fails with an error that says what happened, writes nothing,
// and every later Append fails too: the engine stops on a sink error, so
// the session stops before its next write, instead of ending with a head
// hash that verify rejects.
func TestWriterNoticesChangedJournal(t *testing.T) {
	events := fixtureEvents()
	const synced = -1 // the first fsynced event after the change
	cases := []struct {
		name   string
		change func(t *testing.T, path string)
		next   int // index of the first event whose Append must fail, or synced
		want   string
	}{
		{"truncated", func(t *testing.T, p string) { must(t, os.Truncate(p, 100)) }, 10, "was truncated to 100 bytes"},
		{"emptied", func(t *testing.T, p string) { must(t, os.WriteFile(p, nil, 0o600)) }, 10, "was truncated to 0 bytes"},
		{"written to", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			_, err = f.WriteString("{\"forged\":true}\n")
			must(t, err)
			must(t, f.Close())
		}, 10, "another process wrote to it"},
		{"deleted", func(t *testing.T, p string) { must(t, os.Remove(p)) }, 10, "was deleted"},
		{"replaced", func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			must(t, err)
			tmp := p + ".tmp"
			must(t, os.WriteFile(tmp, b, 0o600)) // an editor's save: same bytes, another file
			must(t, os.Rename(tmp, p))
		}, 10, "replaced by another file"},
		{"moved away", func(t *testing.T, p string) { must(t, os.Rename(p, p+".old")) }, synced, "was moved away or deleted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := Create(t.TempDir(), fixtureHeader(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for _, e := range events[:10] {
				if err := w.Append(e); err != nil {
					t.Fatal(err)
				}
			}
			c.change(t, w.Path())
			next := 10
			for ; c.next == synced && !w.willSync(events[next]); next++ {
				if err := w.Append(events[next]); err != nil {
					t.Fatalf("event %d (%s): %v", next+1, events[next].Type, err)
				}
			}
			before := fileBytes(w.Path())
			err = w.Append(events[next])
			if !errors.Is(err, ErrJournalChanged) || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), "stops before the next write to the database") || !strings.Contains(err.Error(), w.Path()) {
				t.Fatalf("Append after the journal was %s: %v", c.name, err)
			}
			if after := fileBytes(w.Path()); !bytes.Equal(before, after) {
				t.Errorf("the failed Append wrote to the file")
			}
			if err2 := w.Append(events[next]); !errors.Is(err2, ErrJournalChanged) {
				t.Errorf("a later Append: %v, want the same error again", err2)
			}
			if h := w.Head(); h != "" {
				t.Errorf("Head() = %s after the journal changed, want none", h)
			}
			t.Logf("%s: %v", c.name, err)
		})
	}
}

// TestWriterUnchangedAfterResume: a resumed writer (which truncated a torn
// line itself) knows the file's size, and goes on appending.
func TestWriterUnchangedAfterResume(t *testing.T) {
	path, orig := writeTemp(t)
	ls := lines(orig)
	must(t, os.WriteFile(path, append(join(ls[:30]), ls[30][:9]...), 0o600))
	w, prior, err := OpenAppend(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, e := range fixtureEvents()[len(prior):] {
		if err := w.Append(e); err != nil {
			t.Fatalf("Append after resume: %v", err)
		}
	}
	must(t, w.Close())
	if r := Verify(path); r.Status != Complete {
		t.Errorf("Verify: %+v", r)
	}
}

func fileBytes(path string) []byte {
	b, _ := os.ReadFile(path)
	if b == nil {
		b, _ = os.ReadFile(filepath.Clean(path + ".old"))
	}
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
