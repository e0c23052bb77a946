package db

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The stamp is the identity source "stamp": a project id written once into
// the database itself by `handrail stamp`, as a marker line
//
//	handrail.project_id=<id>
//
// in the database's COMMENT (COMMENT ON DATABASE). Any other text in the
// comment is left alone: stamping replaces an existing marker line or
// appends the marker on a line of its own.
//
// Why the comment: the owner of a database may always comment on it,
// superuser or not. The earlier database-level setting (ALTER DATABASE ...
// SET handrail.project_id) needs, since PostgreSQL 15, a superuser or an
// explicit GRANT SET ON PARAMETER for a custom parameter, which the owner
// role of a managed database (Supabase's postgres) does not have.
//
// Like that setting, the comment lives in the cluster catalog
// (pg_shdescription), not in the database's own schema: since PostgreSQL 11
// pg_dump without --create does not dump database comments, so the usual
// way of cloning production into staging — pg_dump of the database
// restored into another database (pg_restore into an existing database)
// — does not carry it, and the clone does not claim to be production.
// Caveat: `pg_dump --create` (and pg_restore --create), pg_dumpall and
// physical copies (pg_basebackup, disk snapshots) do carry it; runbooks
// that fear those should add another identity source (supabase,
// system_identifier).
//
// It is read from the catalog with schema-qualified names, never via
// current_setting(): a client can set any custom setting for its own
// session (PGOPTIONS='-c handrail.project_id=...', or SET) and can shadow
// unqualified catalog names (temporary relations, search_path), and
// neither must be able to spoof the stamp.

// StampSetting is the name in the marker line holding the stamp
// ("handrail.project_id=<id>" in the database comment).
const StampSetting = "handrail.project_id"

// ErrStampConflict is returned (wrapped, naming both ids) by Stamp when the
// database is already stamped with a different id and force is false.
var ErrStampConflict = errors.New("database is already stamped with a different project id")

// ErrStampNotPermitted is returned (wrapped) by Stamp when the connected
// role may not comment on the database (it is neither its owner nor a
// superuser).
var ErrStampNotPermitted = errors.New("not permitted to stamp this database")

// stampIDPattern is a project id without its length limit (maxStampID):
// written as {1,63}, the expression compiled into some 50 KB and 700
// allocations in every process's start.
var stampIDPattern = regexp.MustCompile(`^[a-z0-9_-]+$`)

const maxStampID = 63

// stampLinePattern matches a marker line exactly (when its id is at most
// maxStampID long); stampLikePattern matches any line that looks meant as
// one, so a mistyped marker is reported rather than silently ignored.
var (
	stampLinePattern = regexp.MustCompile(`^` + regexp.QuoteMeta(StampSetting) + `=([a-z0-9_-]+)$`)
	stampLikePattern = regexp.MustCompile(`(?i)^\s*` + regexp.QuoteMeta(StampSetting) + `\s*=`)
)

// ValidateStampID checks a project id for use as a stamp: 1 to 63
// characters from a-z, 0-9, '_' and '-'.
func ValidateStampID(id string) error {
	if id == "" {
		return errors.New("project id is empty")
	}
	if len(id) > maxStampID || !stampIDPattern.MatchString(id) {
		return fmt.Errorf("invalid project id %q: use 1 to 63 characters from a-z, 0-9, '_' and '-'", id)
	}
	return nil
}

// readStampSQL reads the current database's comment from the catalog.
// Every name is schema-qualified so that a session's temporary relations
// or search_path cannot stand in for the catalog.
const readStampSQL = `select pg_catalog.shobj_description(d.oid, 'pg_database')
from pg_catalog.pg_database d
where d.datname = pg_catalog.current_database()`

// readComment returns the connected database's comment ("" if none).
func readComment(ctx context.Context, conn *pgx.Conn) (string, error) {
	// Simple protocol: no prepared statement, so it also works through
	// transaction-mode poolers.
	var comment pgtype.Text
	if err := conn.QueryRow(ctx, readStampSQL, pgx.QueryExecModeSimpleProtocol).Scan(&comment); err != nil {
		return "", err
	}
	return comment.String, nil
}

// commentLines splits a comment into lines; a line's trailing "\r" (CRLF
// line ends) is not part of it.
func commentLines(comment string) []string {
	lines := strings.Split(comment, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// parseStamp finds the marker line in a database comment. It returns the
// stamped id and the marker's line index (-1 when there is none). More
// than one marker line, or a line that looks like a mistyped marker, is an
// error: the stamp is an identity, and a guess would be worse than none.
func parseStamp(comment string) (id string, line int, err error) {
	line = -1
	if comment == "" {
		return "", -1, nil
	}
	for i, l := range commentLines(comment) {
		if m := stampLinePattern.FindStringSubmatch(l); m != nil && len(m[1]) <= maxStampID {
			if line >= 0 {
				return "", -1, fmt.Errorf("ambiguous stamp: the database comment has more than one %s= line (lines %d and %d); "+
					"fix it with COMMENT ON DATABASE", StampSetting, line+1, i+1)
			}
			id, line = m[1], i
			continue
		}
		if stampLikePattern.MatchString(l) {
			return "", -1, fmt.Errorf("malformed stamp: line %d of the database comment, %q, is not exactly %s=<id> "+
				"(1 to 63 characters from a-z, 0-9, '_' and '-'); fix it with COMMENT ON DATABASE", i+1, l, StampSetting)
		}
	}
	return id, line, nil
}

// withStamp returns comment with its marker line (index line, or -1 for
// none) set to id, all other text unchanged.
func withStamp(comment string, line int, id string) string {
	marker := StampSetting + "=" + id
	if line >= 0 {
		lines := strings.Split(comment, "\n")
		if strings.HasSuffix(lines[line], "\r") {
			marker += "\r"
		}
		lines[line] = marker
		return strings.Join(lines, "\n")
	}
	switch {
	case comment == "":
		return marker
	case strings.HasSuffix(comment, "\n"):
		return comment + marker
	default:
		return comment + "\n" + marker
	}
}

// ReadStamp returns the project id stamped into the connected database;
// ok is false when there is none. It only reads the catalog, so it is safe
// as an identity probe.
func ReadStamp(ctx context.Context, conn *pgx.Conn) (id string, ok bool, err error) {
	comment, err := readComment(ctx, conn)
	if err != nil {
		return "", false, fmt.Errorf("read stamp: %w", err)
	}
	id, line, err := parseStamp(comment)
	if err != nil {
		return "", false, fmt.Errorf("read stamp: %w", err)
	}
	return id, line >= 0, nil
}

// Stamp writes id as the connected database's project id and returns the
// previous one ("" if there was none). Stamping the same id again is a
// no-op. A different existing id is replaced only with force; otherwise
// the error wraps ErrStampConflict. The rest of the database comment is
// kept. The role must own the database or be a superuser; otherwise the
// error wraps ErrStampNotPermitted.
func Stamp(ctx context.Context, conn *pgx.Conn, id string, force bool) (previous string, err error) {
	if err := ValidateStampID(id); err != nil {
		return "", err
	}
	comment, err := readComment(ctx, conn)
	if err != nil {
		return "", fmt.Errorf("stamp: read the database comment: %w", err)
	}
	previous, line, err := parseStamp(comment)
	if err != nil {
		return "", fmt.Errorf("stamp: %w", err)
	}
	if line >= 0 && previous == id {
		return previous, nil
	}
	var dbname string
	if err := conn.QueryRow(ctx, "select pg_catalog.current_database()", pgx.QueryExecModeSimpleProtocol).Scan(&dbname); err != nil {
		return previous, fmt.Errorf("stamp: %w", err)
	}
	if line >= 0 && !force {
		return previous, fmt.Errorf("%w: database %q is stamped %q, not %q; if this really is %q, re-run with --force to overwrite the stamp",
			ErrStampConflict, dbname, previous, id, id)
	}
	// COMMENT takes no bind parameters: the server quotes the name and
	// the text (which may hold anything a human wrote) into the statement.
	var stmt string
	if err := conn.QueryRow(ctx, "select pg_catalog.format('COMMENT ON DATABASE %I IS %L', pg_catalog.current_database(), $1::pg_catalog.text)",
		pgx.QueryExecModeSimpleProtocol, withStamp(comment, line, id)).Scan(&stmt); err != nil {
		return previous, fmt.Errorf("stamp: %w", err)
	}
	if _, err := conn.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
			return previous, permissionError(ctx, conn, dbname)
		}
		return previous, fmt.Errorf("stamp: %w", err)
	}
	got, ok, err := ReadStamp(ctx, conn)
	if err != nil {
		return previous, err
	}
	if !ok || got != id {
		return previous, fmt.Errorf("stamp: wrote %q but read back %q", id, got)
	}
	return previous, nil
}

// Stamp is Stamp on the target's work connection: `handrail stamp`
// connects as every session does (Connect: the pooler refusal, its
// application_name).
func (t *Target) Stamp(ctx context.Context, id string, force bool) (previous string, err error) {
	t.workMu.Lock()
	defer t.workMu.Unlock()
	return Stamp(ctx, t.work, id, force)
}

// permissionError explains a refused COMMENT ON DATABASE: only the owner
// of the database (or a member of the owning role) or a superuser may
// comment on it.
func permissionError(ctx context.Context, conn *pgx.Conn, dbname string) error {
	var role, owner string
	_ = conn.QueryRow(ctx, "select current_user, pg_catalog.pg_get_userbyid(d.datdba) from pg_catalog.pg_database d where d.datname = pg_catalog.current_database()",
		pgx.QueryExecModeSimpleProtocol).Scan(&role, &owner)
	as := "the owner"
	if owner != "" {
		as = fmt.Sprintf("the owner (%s)", pgx.Identifier{owner}.Sanitize())
	}
	return fmt.Errorf("%w: must be the owner of database %s or a superuser; connect as the owner: "+
		"run `handrail stamp` with a --db that connects as %s or a superuser, not as %s, "+
		"or identify this database by another source (supabase, sql, system_identifier)",
		ErrStampNotPermitted, pgx.Identifier{dbname}.Sanitize(), as, pgx.Identifier{role}.Sanitize())
}
