package db

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Identity source names (a runbook's [target] identity list); the set is
// closed and declared here, where each one is resolved.
const (
	SourceStamp            = "stamp"
	SourceSupabase         = "supabase"
	SourceSQL              = "sql"
	SourceSystemIdentifier = "system_identifier"
)

// IdentitySources lists every source, in the order the docs give them.
var IdentitySources = []string{SourceStamp, SourceSupabase, SourceSQL, SourceSystemIdentifier}

// IdentityConfig says how to prove which database the target is (SPEC 4.1).
type IdentityConfig struct {
	Expected  string   // the runbook's project_id
	Forbidden []string // ids of known non-targets (staging)
	Sources   []string // stamp | supabase | sql | system_identifier
	SQL       string   // the query for "sql": one row, one non-null value
}

// The identity probes. VerifyIdentity sends these and nothing else.
const (
	systemIdentifierSQL = "select system_identifier::text from pg_control_system()"
	probeBegin          = "BEGIN READ ONLY"
	probeRollback       = "ROLLBACK" // also how every failed or read-only transaction ends
	probeTimeout        = 15 * time.Second
)

// VerifyIdentity asks each configured source which database this is. ok is
// true only if at least one source resolved, every resolved source found
// cfg.Expected, none found an id in cfg.Forbidden, and no source failed.
// forbiddenMatch is the forbidden id found, if any; reason explains a
// refusal in one sentence naming expected and found.
//
// A source that finds nothing (no stamp, a non-Supabase host, a query
// returning no row or null) is unresolved and does not count. A source
// that fails (the query errors or returns several rows, a malformed stamp,
// an unknown source name) refuses: if we cannot tell what a source would
// have said, it might have said "staging". A lost connection refuses too.
//
// The probes are the only statements it sends, all read-only: ReadStamp's
// catalog read, the runbook's "sql" query inside BEGIN READ ONLY ...
// ROLLBACK (sent as one extended-protocol statement, so it cannot smuggle
// a COMMIT and a write), and pg_control_system(). "supabase" sends nothing.
func (t *Target) VerifyIdentity(ctx context.Context, cfg IdentityConfig) (sources []IdentitySource, ok bool, forbiddenMatch string, reason string) {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	if t.work == nil || t.work.IsClosed() {
		return nil, false, "", "not connected to the database"
	}

	var failed []string
	for _, name := range cfg.Sources {
		src := IdentitySource{Source: name}
		var out probeOutcome
		switch name {
		case SourceStamp:
			out = t.probeStamp(ctx, &src)
		case SourceSupabase:
			if ref, detail, found := SupabaseRef(t.cfg.Host, t.cfg.User); found {
				src.Found, src.Resolved, src.Detail = ref, true, detail
			} else {
				src.Detail = detail
			}
		case SourceSQL:
			out = t.probeSQL(ctx, cfg.SQL, &src)
		case SourceSystemIdentifier:
			out = t.probeSystemIdentifier(ctx, &src)
		default:
			src.Detail = fmt.Sprintf("unknown identity source %q (use stamp, supabase, sql or system_identifier)", name)
			out = probeFailed
		}
		sources = append(sources, src)
		switch out {
		case probeLost:
			return sources, false, "", fmt.Sprintf("the connection was lost while checking identity (%s): %s", name, src.Detail)
		case probeFailed:
			failed = append(failed, name+": "+src.Detail)
		}
	}

	ok, forbiddenMatch, reason = identityVerdict(cfg, sources, failed)
	return sources, ok, forbiddenMatch, reason
}

type probeOutcome int

const (
	probeDone   probeOutcome = iota // resolved, or cleanly found nothing
	probeFailed                     // the source could not say
	probeLost                       // the connection is gone
)

// identityVerdict applies SPEC 4.1 to what the sources found.
func identityVerdict(cfg IdentityConfig, sources []IdentitySource, failed []string) (ok bool, forbiddenMatch, reason string) {
	if cfg.Expected == "" {
		return false, "", "no expected project id is configured"
	}
	if len(cfg.Sources) == 0 {
		return false, "", "no identity source is configured"
	}
	var resolved, mismatched []string
	for _, s := range sources {
		if !s.Resolved {
			continue
		}
		resolved = append(resolved, s.Source)
		for _, f := range cfg.Forbidden {
			if s.Found == f && forbiddenMatch == "" {
				forbiddenMatch = f
			}
		}
		if s.Found != cfg.Expected {
			mismatched = append(mismatched, fmt.Sprintf("%s found %q", s.Source, s.Found))
		}
	}
	switch {
	case forbiddenMatch != "":
		return false, forbiddenMatch, fmt.Sprintf("this is %q, a forbidden target; expected %q (%s)",
			forbiddenMatch, cfg.Expected, strings.Join(mismatched, "; "))
	case len(mismatched) > 0:
		return false, "", fmt.Sprintf("expected %q but %s", cfg.Expected, strings.Join(mismatched, "; "))
	case len(failed) > 0:
		return false, "", fmt.Sprintf("cannot confirm %q: an identity source failed (%s)", cfg.Expected, strings.Join(failed, "; "))
	case len(resolved) == 0:
		var why []string
		for _, s := range sources {
			why = append(why, s.Source+": "+s.Detail)
		}
		return false, "", fmt.Sprintf("no identity source resolved, so this database cannot be confirmed as %q (%s)",
			cfg.Expected, strings.Join(why, "; "))
	}
	return true, "", ""
}

// Each probe fills src and says how it went.

func (t *Target) probeErr(err error, src *IdentitySource, what string) probeOutcome {
	src.Detail = what + ": " + err.Error()
	if IsConnectionLost(err) || t.work.IsClosed() {
		return probeLost
	}
	return probeFailed
}

func (t *Target) probeStamp(ctx context.Context, src *IdentitySource) probeOutcome {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	id, found, err := ReadStamp(ctx, t.work)
	switch {
	case err != nil:
		return t.probeErr(err, src, "could not read the stamp")
	case !found:
		src.Detail = "the database is not stamped (handrail stamp --db DSN --id PROJECT_ID)"
	default:
		src.Found, src.Resolved = id, true
		src.Detail = "stamped by handrail stamp (" + StampSetting + ")"
	}
	return probeDone
}

func (t *Target) probeSQL(ctx context.Context, query string, src *IdentitySource) probeOutcome {
	if strings.TrimSpace(query) == "" {
		src.Detail = `the "sql" source has no query`
		return probeFailed
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	res, err := t.readOnly(ctx, t.work, query, QueryOptions{KeepRows: 2})
	switch {
	case err != nil:
		return t.probeErr(err, src, "the query failed")
	case len(res.Columns) != 1 || res.Total > 1:
		src.Detail = fmt.Sprintf("the query must return one row with one column; it returned %d row(s) with %d column(s)",
			res.Total, len(res.Columns))
		return probeFailed
	case res.Total == 0:
		src.Detail = "the query returned no row"
	case res.Rows[0][0] == nil:
		src.Detail = "the query returned null"
	default:
		src.Found, src.Resolved = fmt.Sprint(res.Rows[0][0]), true
		src.Detail = "runbook query"
	}
	return probeDone
}

func (t *Target) probeSystemIdentifier(ctx context.Context, src *IdentitySource) probeOutcome {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var id string
	if err := t.work.QueryRow(ctx, systemIdentifierSQL).Scan(&id); err != nil {
		return t.probeErr(err, src, "could not read pg_control_system()")
	}
	src.Found, src.Resolved, src.Detail = id, true, "pg_control_system().system_identifier"
	return probeDone
}

const (
	supabaseDirectSuffix = ".supabase.co"
	supabasePoolerSuffix = ".pooler.supabase.com"
)

// SupabaseRef finds the Supabase project ref in a connection: the host
// db.<ref>.supabase.co (direct), or the user <role>.<ref> on a
// *.pooler.supabase.com host (Supavisor). A ref is exactly 20 lowercase
// letters. ok is false, with detail saying why, for any other host or a
// malformed ref; it is never guessed.
func SupabaseRef(host, user string) (ref string, detail string, ok bool) {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case strings.HasSuffix(h, supabasePoolerSuffix):
		i := strings.LastIndexByte(user, '.')
		if i <= 0 {
			return "", fmt.Sprintf("pooler host %s but user %q is not <role>.<project-ref>", host, user), false
		}
		ref = user[i+1:]
		if !isSupabaseRef(ref) {
			return "", fmt.Sprintf("pooler user %q: %q is not a project ref (20 lowercase letters)", user, ref), false
		}
		return ref, "pooler user " + user, true
	case strings.HasSuffix(h, supabaseDirectSuffix):
		trimmed := strings.TrimSuffix(host, ".")
		label := trimmed[:len(trimmed)-len(supabaseDirectSuffix)]
		if len(label) < 3 || !strings.EqualFold(label[:3], "db.") {
			return "", fmt.Sprintf("host %s is not db.<project-ref>.supabase.co", host), false
		}
		rest := label[3:]
		if !isSupabaseRef(rest) {
			return "", fmt.Sprintf("host %s: %q is not a project ref (20 lowercase letters)", host, rest), false
		}
		return rest, "host " + host, true
	}
	return "", fmt.Sprintf("host %q is not a Supabase host (db.<ref>.supabase.co or *.pooler.supabase.com)", host), false
}

func isSupabaseRef(s string) bool {
	if len(s) != 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
