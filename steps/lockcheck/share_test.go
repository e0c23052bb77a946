package lockcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// weighChecked is Weigh, failing t when it changed a prediction record
// once stored: one that was there before it ran, or one it made (see
// storedHook). Neighbours share records, so a write into one would
// change every statement that shares it.
func weighChecked(t testing.TB, ctx context.Context, q Querier, o WeighOptions, an *Analysis) error {
	t.Helper()
	stored := map[*Prediction]string{}
	for _, sl := range an.Statements {
		stored[sl.Prediction] = fmt.Sprintf("%#v", *sl.Prediction)
	}
	storedHook = func(p *Prediction) { stored[p] = fmt.Sprintf("%#v", *p) }
	defer func() { storedHook = nil }()
	err := Weigh(ctx, q, o, an)
	for p, was := range stored {
		if now := fmt.Sprintf("%#v", *p); now != was {
			t.Errorf("Weigh changed a prediction record in place:\nwas %s\nnow %s", was, now)
		}
	}
	return err
}

// A statement is its line and a reference to its prediction.
func TestStatementLocksSize(t *testing.T) {
	if n := unsafe.Sizeof(StatementLocks{}); n > 16 {
		t.Errorf("StatementLocks is %d bytes, want 16", n)
	}
}

// samePrediction compares every field of a Prediction, and a statement's
// JSON (statementJSON) carries every field: a field added to Prediction
// must be added to both.
func TestPredictionFieldsComparedAndWritten(t *testing.T) {
	typ := reflect.TypeFor[Prediction]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var x Prediction
		v := reflect.ValueOf(&x).Elem().Field(i)
		switch f.Type.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Slice:
			v.Set(reflect.MakeSlice(f.Type, 1, 1))
		default:
			t.Fatalf("Prediction.%s: a %s, which this test does not fill", f.Name, f.Type)
		}
		if samePrediction(&Prediction{}, &x) {
			t.Errorf("samePrediction does not compare Prediction.%s", f.Name)
		}
		b, err := json.Marshal(StatementLocks{Line: 7, Prediction: &x})
		if err != nil {
			t.Fatal(err)
		}
		var back StatementLocks
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Line != 7 || !samePrediction(back.Prediction, &x) {
			t.Errorf("Prediction.%s is not written or not read: %s", f.Name, b)
		}
	}
	if n := reflect.TypeFor[statementJSON]().NumField() - 1 + reflect.TypeFor[predictionJSON]().NumField(); n != typ.NumField()+1 {
		t.Errorf("statementJSON has %d fields, Prediction %d and the line", n, typ.NumField())
	}
}

// Neighbours with equal predictions share one record; a statement that
// differs gets its own (its lists the neighbour's where equal), and
// each keeps its line.
func TestAnalyzeSharesPredictions(t *testing.T) {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "insert into t (id) values (%d);\n", i)
	}
	b.WriteString("insert into u (id) values (0);\nupdate t set id = 2;\n")
	an := Analyze(sqlscan.SplitStatements(b.String()), Options{Transactional: true})
	s := an.Statements
	if len(s) != 1002 {
		t.Fatalf("%d statements", len(s))
	}
	records := map[*Prediction]int{}
	for i, sl := range s {
		records[sl.Prediction]++
		if sl.Line != i+1 {
			t.Fatalf("statement %d on line %d, want %d", i, sl.Line, i+1)
		}
	}
	if len(records) != 3 || records[s[0].Prediction] != 1000 {
		t.Errorf("%d records for 1002 statements (1000 equal inserts, then two others), want 3", len(records))
	}
	if s[1000].Locks[0].Rel.Name != "u" || s[1001].Command != "UPDATE" {
		t.Errorf("the insert into u and the update: %+v %+v", *s[1000].Prediction, *s[1001].Prediction)
	}
	if s[1001].Locks[0].Rel.Name != "t" || &s[1001].Locks[0] == &s[0].Locks[0] {
		t.Errorf("the update shares the inserts' locks (ROW EXCLUSIVE for INSERT): %+v", s[1001].Locks)
	}
}

// setPrediction never writes into the record it replaces: a statement
// that weighs differently from the neighbours it shares a record with
// gets a record of its own, and one that weighs the same as the one
// before it shares that one's.
func TestSetPredictionCopiesOnWrite(t *testing.T) {
	an := Analyze(sqlscan.SplitStatements("insert into t values (1); insert into t values (2); insert into t values (3)"), Options{})
	shared := an.Statements[0].Prediction
	was := fmt.Sprintf("%#v", *shared)
	if an.Statements[1].Prediction != shared || an.Statements[2].Prediction != shared {
		t.Fatal("three equal inserts do not share one record")
	}
	waits := *shared
	waits.WaitsFor = []Session{{PID: 42}}
	waits.Locks = []Lock{shared.Locks[0]}
	waits.Locks[0].Waits = []Session{{PID: 43}}
	an.setPrediction(1, waits)
	s := an.Statements
	if s[0].Prediction != shared || s[2].Prediction != shared || fmt.Sprintf("%#v", *shared) != was {
		t.Fatal("changing statement 2 changed the record statements 1 and 3 share")
	}
	if s[1].Prediction == shared || len(s[1].WaitsFor) != 1 || len(s[1].Locks[0].Waits) != 1 {
		t.Fatalf("statement 2: %+v", *s[1].Prediction)
	}
	an.setPrediction(2, waits)
	if s[2].Prediction != s[1].Prediction {
		t.Error("statement 3, weighed as statement 2, does not share its record")
	}
	an.setPrediction(0, *shared)
	if s[0].Prediction != shared {
		t.Error("statement 1, unchanged, got a new record")
	}
	settled := *shared
	settled.Maybe = []MaybeLock{{Rel: Rel{Name: "c"}, Mode: RowShare, Why: "foreign key"}}
	an.setPrediction(0, settled)
	if fmt.Sprintf("%#v", *shared) != was || s[0].Maybe[0].Rel.Name != "c" {
		t.Error("settling statement 1's maybe wrote into the record it had")
	}
}

// agesRE matches what differs between two weighings taken moments apart:
// a session's ages, in the JSON and in the texts that say them ("idle in
// transaction for 100ms").
var agesRE = regexp.MustCompile(`"(xact|state)_age":[0-9]+|for ([0-9][0-9.]*(µs|ns|ms|s|m|h))+`)

// Weigh of neighbours sharing records: a foreign key settles the inserts'
// live maybe, an idle transaction makes the index builds wait, and the
// CONCURRENTLY builds wait for it to end. Weigh writes into no record
// that was there before it (weighChecked), equal neighbours share the
// weighed record, and every statement weighs as it does with a record of
// its own (ages aside: they are looked up at different moments).
func TestWeighSharedPredictions(t *testing.T) {
	sb, conn := weighDB(t, `create table cust (id int primary key); create table orders (id int, cid int references cust);
create table small (id int, x int);`)
	ctx := context.Background()
	pid := idleWriterOnSmall(t, sb, conn)
	src := `insert into orders values (1, 1); insert into orders values (2, 1); insert into orders values (3, 1);
create index on small (x); create index on small (x);
create index concurrently on small (id); create index concurrently on small (id)`
	weighed := func(unshare bool) *Analysis {
		an := Analyze(sqlscan.SplitStatements(src), Options{})
		if unshare {
			for i := range an.Statements {
				p := *an.Statements[i].Prediction
				an.Statements[i].Prediction = &p
			}
		}
		if err := weighChecked(t, ctx, conn, WeighOptions{}, an); err != nil {
			t.Fatal(err)
		}
		return an
	}
	an := weighed(false)
	s := an.Statements
	if len(s) != 7 {
		t.Fatalf("%d statements", len(s))
	}
	// The CONCURRENTLY builds shared a record before Weigh, but each looks
	// up what it waits for on its own (the ages differ): records of their
	// own, the one they shared unchanged (weighChecked).
	for _, g := range [][]int{{0, 1, 2}, {3, 4}} {
		for _, i := range g[1:] {
			if s[i].Prediction != s[g[0]].Prediction {
				t.Errorf("statement %d does not share statement %d's weighed record", i+1, g[0]+1)
			}
		}
	}
	if m := s[0].Maybe; len(m) != 1 || m[0].Rel.Name != "cust" {
		t.Errorf("the inserts' maybe: %+v, want the foreign key's on cust", m)
	}
	if l := s[3].Locks; len(l) != 1 || len(l[0].Waits) != 1 || l[0].Waits[0].PID != pid {
		t.Errorf("the index builds' locks: %+v, want one waiting for pid %d", l, pid)
	}
	for _, i := range []int{5, 6} {
		if w := s[i].WaitsFor; len(w) != 1 || w[0].PID != pid {
			t.Errorf("CONCURRENTLY build %d waits for %+v, want pid %d", i-4, w, pid)
		}
	}
	a, _ := json.Marshal(an)
	b, _ := json.Marshal(weighed(true))
	if x, y := agesRE.ReplaceAll(a, nil), agesRE.ReplaceAll(b, nil); string(x) != string(y) {
		t.Errorf("shared and unshared records weigh differently:\n%s\n%s", x, y)
	}
}

// Analyze changes no prediction record once it stored it (keep): what
// runs after a statement (allow comments, lock-held-until-commit, the
// next statements) only reads.
func TestAnalyzeChangesNoStoredRecord(t *testing.T) {
	srcs := []string{migration20k()}
	for _, s := range jsonSteps {
		srcs = append(srcs, s.sql)
	}
	for _, src := range srcs {
		for _, tx := range []bool{true, false} {
			stored := map[*Prediction]string{}
			storedHook = func(p *Prediction) { stored[p] = fmt.Sprintf("%#v", *p) }
			an := Analyze(sqlscan.SplitStatements(src), Options{Transactional: tx})
			storedHook = nil
			for _, sl := range an.Statements {
				if _, ok := stored[sl.Prediction]; !ok {
					t.Fatalf("statement on line %d: a record keep did not store", sl.Line)
				}
			}
			for p, was := range stored {
				if now := fmt.Sprintf("%#v", *p); now != was {
					t.Errorf("Analyze changed a stored record:\nwas %s\nnow %s", was, now)
				}
			}
		}
	}
}
