package lockcheck

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/json")

// jsonSteps are analysed for the JSON goldens: every field of a
// statement's prediction (file, line, command, locks with their flags,
// unknown, maybe, creates), neighbours with equal predictions, and
// names with characters encoding/json may escape (< > &).
var jsonSteps = []struct {
	name string
	tx   bool
	sql  string
}{
	{"tx", true, `create table "a<b&c" (id int primary key);
create index on "a<b&c" (id);
-- handrail:allow add-column-volatile-default the table is small
alter table orders add column x timestamptz default now(), alter column note type varchar(20);
insert into orders (id) values (1);
insert into orders (id) values (2);
insert into orders (id) values (3);
update "a<b&c" set id = id + 1 where id < 3 & 1;
do $$ begin perform 1; end $$;
alter table orders add constraint fk foreign key (x) references "a<b&c" (id) not valid;
alter table orders validate constraint fk;
alter table orders alter column note set not null;
truncate orders;
drop index if exists orders_x;
select * from orders o join customers c on c.id = o.id for update of o;
lock table customers in share mode;`},
	{"notx", false, `create index concurrently orders_x on orders (x);
create index concurrently orders_x on orders (x);
alter table p attach partition p1 for values in (1);
reindex table concurrently orders;
vacuum full orders;
comment on table orders is 'x';
refresh materialized view concurrently mv;`},
}

func jsonAnalysis(tx bool, sql string) *Analysis {
	stmts := sqlscan.SplitStatements(sql)
	for i := range stmts {
		stmts[i].File = "migrations/0001_<x>&y.sql"
	}
	return Analyze(stmts, Options{Transactional: tx})
}

// The analysis' JSON, as `handrail check --json` (HTML-escaped) and the
// journal (not) write it, is byte for byte what it was before neighbours
// shared their predictions (the goldens were written by that code), and
// it reads back to the same bytes.
func TestAnalysisJSONGolden(t *testing.T) {
	for _, s := range jsonSteps {
		an := jsonAnalysis(s.tx, s.sql)
		escaped, err := json.Marshal(an)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(an); err != nil {
			t.Fatal(err)
		}
		raw := b.Bytes()
		for _, g := range []struct {
			file string
			got  []byte
		}{{s.name + ".json", append(escaped, '\n')}, {s.name + "-noescape.json", raw}} {
			path := filepath.Join("testdata", "json", g.file)
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, g.got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.got, want) {
				t.Errorf("%s: the analysis' JSON changed:\n got %s\nwant %s", path, g.got, want)
			}
			var back Analysis
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			again, err := json.Marshal(&back)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, escaped) {
				t.Errorf("%s read back and written again:\n got %s\nwant %s", path, again, escaped)
			}
		}
	}
}

// weighedJSON is a weighed analysis as a journal holds it: lock waits,
// a CONCURRENTLY build's waits_for, settled maybes, relations, findings
// with their weight.
const weighedJSON = `{"transactional":false,"statements":[` +
	`{"file":"m.sql","line":1,"command":"CREATE INDEX CONCURRENTLY","locks":[{"rel":{"schema":"public","name":"orders"},"mode":"SHARE UPDATE EXCLUSIVE","rewrite":"no","scan":"yes","why":"CREATE INDEX CONCURRENTLY","note":"a < b & c","waits":[{"pid":42,"state":"idle in transaction","application_name":"psql","user":"app","query":"select 1","xact_age":61000000000,"state_age":60000000000,"rel":{"schema":"public","name":"orders"},"mode":"ROW EXCLUSIVE","granted":true}]}],"waits_for":[{"pid":43,"state":"active","xact_age":1000000,"state_age":0,"granted":false}]},` +
	`{"file":"m.sql","line":2,"command":"INSERT","locks":[{"rel":{"name":"orders"},"mode":"ROW EXCLUSIVE","rewrite":"no","scan":"no","why":"INSERT"}],"maybe":[{"rel":{"schema":"public","name":"customers"},"mode":"ROW SHARE","why":"foreign key \"fk\": new and changed rows are checked against public.customers"}]},` +
	`{"file":"m.sql","line":3,"command":"INSERT","locks":[{"rel":{"name":"orders"},"mode":"ROW EXCLUSIVE","rewrite":"no","scan":"no","why":"INSERT"}],"maybe":[{"rel":{"schema":"public","name":"customers"},"mode":"ROW SHARE","why":"foreign key \"fk\": new and changed rows are checked against public.customers"}]},` +
	`{"line":4,"command":"DO","unknown":"a DO block runs code handrail does not read","creates":[{"name":"t"}]}],` +
	`"findings":[{"rule":"lock-queue","statement":0,"file":"m.sql","line":1,"rel":{"schema":"public","name":"orders"},"why":"w","safer":"s","weight":{"level":"high","reasons":["r"],"waits":[{"pid":42,"state":"idle in transaction","xact_age":0,"state_age":0,"granted":true}]}}],` +
	`"relations":{"public.orders":{"rel":{"schema":"public","name":"orders"},"exists":true,"kind":"table","rows":10,"bytes":8192}},"weighed":true}`

// A weighed analysis reads back and writes again byte for byte, and its
// equal neighbours (the two inserts) share one record once read.
func TestWeighedAnalysisJSONRoundTrip(t *testing.T) {
	var an Analysis
	if err := json.Unmarshal([]byte(weighedJSON), &an); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&an); err != nil {
		t.Fatal(err)
	}
	if got := bytes.TrimSuffix(b.Bytes(), []byte("\n")); string(got) != weighedJSON {
		t.Errorf("round trip:\n got %s\nwant %s", got, weighedJSON)
	}
	s := an.Statements
	if len(s) != 4 || len(s[0].WaitsFor) != 1 || len(s[0].Locks[0].Waits) != 1 || s[3].Unknown == "" || len(s[3].Creates) != 1 {
		t.Fatalf("read back: %+v", s)
	}
	if s[1].Prediction != s[2].Prediction || s[1].Line != 2 || s[2].Line != 3 {
		t.Error("the two equal inserts read back do not share one prediction record")
	}
	if s[0].Prediction == s[1].Prediction {
		t.Error("different predictions share a record")
	}
}

// No statements, an empty list, and a statement without a prediction
// (a zero StatementLocks) write as they did and read back.
func TestStatementListJSONEdges(t *testing.T) {
	for _, c := range []struct {
		an   Analysis
		want string
	}{
		{Analysis{}, `{"transactional":false,"statements":null}`},
		{Analysis{Statements: []StatementLocks{}}, `{"transactional":false,"statements":[]}`},
		{Analysis{Statements: []StatementLocks{{Line: 3}}}, `{"transactional":false,"statements":[{"line":3,"command":""}]}`},
	} {
		b, err := json.Marshal(&c.an)
		if err != nil || string(b) != c.want {
			t.Errorf("got %s (%v), want %s", b, err, c.want)
		}
		var back Analysis
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if again, _ := json.Marshal(&back); string(again) != c.want {
			t.Errorf("read back: %s, want %s", again, c.want)
		}
	}
	var an Analysis
	if err := json.Unmarshal([]byte(`{"statements":{"line":1}}`), &an); err == nil {
		t.Error("statements that are not an array read without an error")
	}
}

// FuzzAnalysisJSON: whatever a journal's locks_weighed line holds, an
// analysis read from it writes as JSON that reads back to the same
// analysis and the same bytes (sharing neighbours' records on the way
// changes nothing of what is written).
func FuzzAnalysisJSON(f *testing.F) {
	f.Add([]byte(weighedJSON))
	for _, s := range jsonSteps {
		for _, name := range []string{s.name + ".json", s.name + "-noescape.json"} {
			if b, err := os.ReadFile(filepath.Join("testdata", "json", name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"statements":[{"line":1},{"line":2},{"file":"a","line":2,"command":"X"},null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var an Analysis
		if json.Unmarshal(data, &an) != nil {
			return
		}
		first, err := json.Marshal(&an)
		if err != nil {
			t.Fatal(err)
		}
		var back Analysis
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatalf("%s does not read back: %v", first, err)
		}
		again, err := json.Marshal(&back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("written, read and written again:\n%s\n%s", first, again)
		}
		for i, sl := range back.Statements {
			if sl.Prediction == nil {
				t.Fatalf("statement %d read without a prediction", i)
			}
		}
	})
}
