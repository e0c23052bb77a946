package journal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzRead: arbitrary bytes never panic Read; the result is a Log or a
// *VerifyError naming a line (or a *FormatError), never both; a Log
// verifies and renders; the streaming Verify agrees with Read.
func FuzzRead(f *testing.F) {
	src, err := os.ReadFile(fixturePath())
	if err != nil {
		f.Fatal(err)
	}
	ls := lines(src)
	f.Add(src)
	f.Add(join(ls[:3]))               // header and two events: small enough to mutate well
	f.Add(join(ls[:1]))               // header only
	f.Add(src[:len(src)/2])           // torn
	f.Add(append(join(ls[:5]), 0, 0)) // zeroes at the end
	f.Add(bytes.Replace(src, []byte("nightly"), []byte("Nightly"), 1))
	f.Add([]byte{})
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"kind":"header","format":1,"prev":""}` + "\n" + `{"seq":1,"type":"x","prev":"0"}` + "\n"))
	f.Add(bytes.Replace(src, []byte(`"format":2`), []byte(`"format":3`), 1))
	f.Add(append(join(ls[:4]), bytes.Replace(ls[4], []byte(`"mono":`), []byte(`"mono":"x",`), 1)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		log, err := ReadFrom(bytes.NewReader(data))
		if (log == nil) == (err == nil) {
			t.Fatalf("log %v, err %v", log, err)
		}
		sameReport(t, "fuzzed", verifyFrom(bytes.NewReader(data)), readReport(data))
		if err != nil {
			var ve *VerifyError
			var fe *FormatError
			if !errors.As(err, &fe) && (!errors.As(err, &ve) || ve.Line < 1) {
				t.Fatalf("error %v is not a *VerifyError naming a line", err)
			}
			return
		}
		if log.Lines != len(log.Events)+1 || log.Lines < 1 || len(log.Head) != 64 {
			t.Fatalf("lines %d, events %d, head %q", log.Lines, len(log.Events), log.Head)
		}
		for i, e := range log.Events {
			if e.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d", i, e.Seq)
			}
		}
		_ = check(log)
		if err := Transcript(io.Discard, log); err != nil {
			t.Fatal(err)
		}
		_ = PendingIntents(log.Events)
	})
}
