package db

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSupabaseRef(t *testing.T) {
	const ref = "rxlqtyfhsocxnsnnnlwl"
	for _, tc := range []struct {
		name, host, user string
		want             string // "" = must not resolve
	}{
		{"direct", "db." + ref + ".supabase.co", "postgres", ref},
		{"direct, trailing dot", "db." + ref + ".supabase.co.", "postgres", ref},
		{"direct, uppercase domain", "db." + ref + ".SUPABASE.CO", "postgres", ref},
		{"pooler", "aws-0-eu-central-1.pooler.supabase.com", "postgres." + ref, ref},
		{"pooler, other role", "aws-0-eu-central-1.pooler.supabase.com", "app_user." + ref, ref},
		{"pooler, plain user", "aws-0-eu-central-1.pooler.supabase.com", "postgres", ""},
		{"pooler, 19 letters", "aws-0-eu-central-1.pooler.supabase.com", "postgres." + ref[:19], ""},
		{"pooler, 21 letters", "aws-0-eu-central-1.pooler.supabase.com", "postgres." + ref + "x", ""},
		{"pooler, uppercase ref", "aws-0-eu-central-1.pooler.supabase.com", "postgres." + strings.ToUpper(ref), ""},
		{"pooler, digit in ref", "aws-0-eu-central-1.pooler.supabase.com", "postgres.rxlqtyfhsocxnsnnnlw1", ""},
		{"pooler, empty role", "aws-0-eu-central-1.pooler.supabase.com", "." + ref, ""},
		{"direct, 19 letters", "db." + ref[:19] + ".supabase.co", "postgres", ""},
		{"direct, 21 letters", "db." + ref + "a.supabase.co", "postgres", ""},
		{"direct, uppercase ref", "db." + strings.ToUpper(ref) + ".supabase.co", "postgres", ""},
		{"direct, no db. prefix", ref + ".supabase.co", "postgres", ""},
		{"direct, extra label", "db.x." + ref + ".supabase.co", "postgres", ""},
		{"lookalike domain", "db." + ref + ".supabase.co.evil.example", "postgres", ""},
		{"supabase.com is not the direct domain", "db." + ref + ".supabase.com", "postgres", ""},
		{"pooler user on another host", "pooler.example.com", "postgres." + ref, ""},
		{"localhost", "localhost", "postgres", ""},
		{"socket directory", "/var/run/postgresql", "postgres", ""},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, detail, ok := SupabaseRef(tc.host, tc.user)
			if ok != (tc.want != "") || got != tc.want {
				t.Fatalf("SupabaseRef(%q, %q) = %q, %q, %v; want %q", tc.host, tc.user, got, detail, ok, tc.want)
			}
			if detail == "" {
				t.Error("no detail")
			}
		})
	}
}

func TestVerifyIdentity(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	const prod, staging = "rxlqtyfhsocxnsnnnlwl", "mohctrsopquwoyfweadl"

	prodDB := env.database(t, "create table meta(project text); insert into meta values ('"+prod+"')")
	if _, err := Stamp(tgCtx(t), env.admin(t, prodDB), prod, false); err != nil {
		t.Fatal(err)
	}
	stagingDB := env.database(t)
	if _, err := Stamp(tgCtx(t), env.admin(t, stagingDB), staging, false); err != nil {
		t.Fatal(err)
	}
	plainDB := env.database(t)

	var sysID string
	if err := env.admin(t, plainDB).QueryRow(tgCtx(t), "select system_identifier::text from pg_control_system()").Scan(&sysID); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		db        string
		cfg       IdentityConfig
		ok        bool
		forbidden string
		reason    string // substring of the reason
		found     map[string]string
	}{
		{name: "stamp matches", db: prodDB,
			cfg: IdentityConfig{Expected: prod, Forbidden: []string{staging}, Sources: []string{"stamp"}},
			ok:  true, found: map[string]string{"stamp": prod}},
		{name: "stamp is a forbidden id", db: stagingDB,
			cfg:       IdentityConfig{Expected: prod, Forbidden: []string{staging}, Sources: []string{"stamp"}},
			forbidden: staging, reason: "forbidden", found: map[string]string{"stamp": staging}},
		{name: "stamp mismatch", db: stagingDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"stamp"}},
			reason: `expected "` + prod + `" but stamp found "` + staging + `"`, found: map[string]string{"stamp": staging}},
		{name: "nothing resolves", db: plainDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"stamp", "supabase"}},
			reason: "no identity source resolved", found: map[string]string{}},
		{name: "an unresolved source does not veto a resolved one", db: prodDB,
			cfg: IdentityConfig{Expected: prod, Sources: []string{"supabase", "stamp"}},
			ok:  true, found: map[string]string{"stamp": prod}},
		{name: "sources must agree", db: prodDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"stamp", "system_identifier"}},
			reason: "system_identifier found", found: map[string]string{"stamp": prod, "system_identifier": sysID}},
		{name: "system_identifier", db: plainDB,
			cfg: IdentityConfig{Expected: sysID, Sources: []string{"system_identifier"}},
			ok:  true, found: map[string]string{"system_identifier": sysID}},
		{name: "sql", db: prodDB,
			cfg: IdentityConfig{Expected: prod, Sources: []string{"sql", "stamp"}, SQL: "select project from meta"},
			ok:  true, found: map[string]string{"sql": prod, "stamp": prod}},
		{name: "sql with two rows does not resolve", db: prodDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"sql"}, SQL: "select project from meta union all select 'x'"},
			reason: "2 row(s)", found: map[string]string{}},
		{name: "sql returning no row does not resolve", db: prodDB,
			cfg: IdentityConfig{Expected: prod, Sources: []string{"sql", "stamp"}, SQL: "select project from meta where false"},
			ok:  true, found: map[string]string{"stamp": prod}},
		{name: "a failing source refuses even when another matches", db: prodDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"stamp", "sql"}, SQL: "select project from no_such_table"},
			reason: "an identity source failed (sql: the query failed", found: map[string]string{"stamp": prod}},
		{name: "sql returning null does not resolve", db: prodDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"sql"}, SQL: "select null::text"},
			reason: "returned null", found: map[string]string{}},
		{name: "sql cannot write", db: prodDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"sql"}, SQL: "insert into meta values ('x') returning project"},
			reason: "read-only transaction", found: map[string]string{}},
		{name: "sql cannot smuggle a second statement", db: prodDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"sql"}, SQL: "commit; insert into meta values ('" + prod + "') returning project"},
			reason: "cannot insert multiple commands", found: map[string]string{}},
		{name: "unknown source", db: prodDB,
			cfg:    IdentityConfig{Expected: prod, Sources: []string{"dns"}},
			reason: "unknown identity source", found: map[string]string{}},
		{name: "no sources", db: prodDB,
			cfg:    IdentityConfig{Expected: prod},
			reason: "no identity source is configured", found: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := env.connect(t, tc.db, ConnectOptions{})
			sources, ok, forbidden, reason := tg.VerifyIdentity(tgCtx(t), tc.cfg)
			if ok != tc.ok || forbidden != tc.forbidden || !strings.Contains(reason, tc.reason) || (tc.ok && reason != "") {
				t.Fatalf("VerifyIdentity = ok %v, forbidden %q, reason %q; want ok %v, forbidden %q, reason containing %q\nsources: %+v",
					ok, forbidden, reason, tc.ok, tc.forbidden, tc.reason, sources)
			}
			if len(sources) != len(tc.cfg.Sources) {
				t.Fatalf("got %d sources for %d configured", len(sources), len(tc.cfg.Sources))
			}
			for i, s := range sources {
				if s.Source != tc.cfg.Sources[i] {
					t.Errorf("source %d is %q, want %q", i, s.Source, tc.cfg.Sources[i])
				}
				want, resolves := tc.found[s.Source]
				if s.Resolved != resolves || s.Found != want {
					t.Errorf("source %s: resolved %v found %q (%s); want resolved %v found %q", s.Source, s.Resolved, s.Found, s.Detail, resolves, want)
				}
				if s.Detail == "" {
					t.Errorf("source %s has no detail", s.Source)
				}
			}
			// Whatever the probes did, the work connection is idle and usable.
			if err := tg.RunTransaction(tgCtx(t), SQLs{"select 1"}, ExecOptions{}); err != nil {
				t.Fatalf("work connection unusable after VerifyIdentity: %v", err)
			}
		})
	}

	var n int
	if err := env.admin(t, prodDB).QueryRow(tgCtx(t), "select count(*) from meta").Scan(&n); err != nil || n != 1 {
		t.Fatalf("meta has %d rows (%v): an identity probe wrote", n, err)
	}
}

// logStatement matches a log_statement line of the sandbox's log_line_prefix
// "%m [%p] %q%u@%d ".
var logStatement = regexp.MustCompile(`^\S+ \S+ \S+ \[(\d+)\] \S+ LOG:  (?:statement|execute [^:]*): (.*)$`)

// tgLoggedStatements returns the statements the server logged for the
// backends pids, in order (continuation lines joined).
func tgLoggedStatements(t *testing.T, logFile string, pids ...int) []string {
	t.Helper()
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	collecting := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "\t") {
			if collecting {
				out[len(out)-1] += "\n" + line[1:]
			}
			continue
		}
		collecting = false
		m := logStatement.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if slices.Contains(pids, pid) {
			out = append(out, m[2])
			collecting = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// SPEC 4.1: before the verdict, the identity probes are the only
// statements sent, on any of the session's connections.
func TestIdentityProbesOnlyBeforeVerdict(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{LogStatements: true})
	const prod = "rxlqtyfhsocxnsnnnlwl"
	dbname := env.database(t, "create table meta(project text); insert into meta values ('"+prod+"')")
	if _, err := Stamp(tgCtx(t), env.admin(t, dbname), prod, false); err != nil {
		t.Fatal(err)
	}

	// Whatever statements ReadStamp sends are the stamp probe: learn them
	// from the log of a connection of our own.
	stampConn := env.admin(t, dbname)
	if _, found, err := ReadStamp(tgCtx(t), stampConn); err != nil || !found {
		t.Fatalf("ReadStamp: %v, %v", found, err)
	}
	stampProbe := tgLoggedStatements(t, env.sb.LogFile(), int(stampConn.PgConn().PID()))
	if len(stampProbe) == 0 {
		t.Fatal("the server logged nothing for ReadStamp: is log_statement on?")
	}

	tg := env.connect(t, dbname, ConnectOptions{})
	pids := []int{tg.WorkPID(), tg.LockPID()}
	tg.sideMu.Lock()
	pids = append(pids, int(tg.side.PgConn().PID()))
	tg.sideMu.Unlock()

	const userSQL = "select project from meta"
	_, ok, _, reason := tg.VerifyIdentity(tgCtx(t), IdentityConfig{
		Expected: prod,
		Sources:  []string{"stamp", "supabase", "sql", "system_identifier"},
		SQL:      userSQL,
	})
	// system_identifier finds the cluster's id, not prod: the verdict is a
	// refusal, and a refusal is exactly when nothing else may have run.
	if ok || !strings.Contains(reason, "system_identifier found") {
		t.Fatalf("ok %v, reason %q", ok, reason)
	}

	probes := append(slices.Clone(stampProbe), probeBegin, userSQL, probeRollback, systemIdentifierSQL)
	logged := tgLoggedStatements(t, env.sb.LogFile(), pids...)
	if !slices.Equal(logged, probes) {
		t.Fatalf("statements sent before the verdict:\n%s\nwant exactly the probes:\n%s",
			strings.Join(logged, "\n---\n"), strings.Join(probes, "\n---\n"))
	}

	// The filter does see what runs after the verdict.
	if err := tg.RunTransaction(tgCtx(t), SQLs{"select 'after the verdict'"}, ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	logged = tgLoggedStatements(t, env.sb.LogFile(), pids...)
	if !slices.Contains(logged, "select 'after the verdict'") {
		t.Fatalf("the log filter misses later statements: %q", logged)
	}
}
