package db

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// LockKey is the deploy lock's advisory lock key for a target database,
// derived from its project id alone: the first 8 bytes (big-endian) of
// SHA-256("handrail:deploy:"+projectID). Two deploys to one database
// exclude each other whatever runbook (or version of one) they run; the
// key is stable across versions and machines.
func LockKey(projectID string) int64 {
	sum := sha256.Sum256([]byte("handrail:deploy:" + projectID))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

const lockTimeout = 10 * time.Second

// errSingleNoLock is TryDeployLock's refusal on a Single target, which
// dials no lock connection: "conn closed" would send an operator looking
// for a dropped connection that never existed.
var errSingleNoLock = errors.New("deploy lock: this connection was opened for read-only checks (ConnectOptions.Single) and has no lock connection; connect without Single to take the deploy lock")

// TryDeployLock takes the session-level advisory lock key on the dedicated
// lock connection with pg_try_advisory_lock, which never waits. If another
// session holds it, ok is false and holder says who (pid,
// application_name, client address or "local", and since when its
// connection exists); holder is nil if it let go before we could look.
// Taking a lock this Target already holds returns ok without stacking a
// second hold.
func (t *Target) TryDeployLock(ctx context.Context, key int64) (ok bool, holder *LockInfo, err error) {
	if t.single {
		return false, nil, errSingleNoLock
	}
	t.lockMu.Lock()
	defer t.lockMu.Unlock()
	if t.lock == nil || t.lock.IsClosed() {
		return false, nil, fmt.Errorf("deploy lock: %w", pgconn.ErrConnClosed)
	}
	if t.held[key] {
		return true, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()

	// The lock can be released between a failed try and the look at
	// pg_locks; try again a few times rather than report a holder-less
	// refusal.
	for attempt := 0; attempt < 3; attempt++ {
		if err := t.lock.QueryRow(ctx, fmt.Sprintf("select pg_try_advisory_lock(%d)", key)).Scan(&ok); err != nil {
			return false, nil, fmt.Errorf("deploy lock: %w", err)
		}
		if ok {
			t.held[key] = true
			return true, nil, nil
		}
		holder, err = lockHolder(ctx, t.lock, key)
		if err != nil {
			return false, nil, err
		}
		if holder != nil {
			return false, holder, nil
		}
	}
	return false, nil, nil
}

// advisoryKeyParts splits a bigint advisory key the way pg_locks shows it:
// classid is the high 32 bits, objid the low 32 bits, objsubid 1.
func advisoryKeyParts(key int64) (classid, objid uint32) {
	return uint32(uint64(key) >> 32), uint32(uint64(key))
}

const advisoryLockWhere = `l.locktype = 'advisory' and l.classid = %d::oid and l.objid = %d::oid and l.objsubid = 1
  and l.database = (select oid from pg_database where datname = current_database())`

func lockHolder(ctx context.Context, conn *pgx.Conn, key int64) (*LockInfo, error) {
	classid, objid := advisoryKeyParts(key)
	q := fmt.Sprintf(`select l.pid, coalesce(a.application_name, ''),
  coalesce(host(a.client_addr), 'local'), coalesce(a.backend_start, a.state_change)
from pg_locks l left join pg_stat_activity a on a.pid = l.pid
where l.granted and `+advisoryLockWhere+`
order by l.pid limit 1`, classid, objid)
	var (
		info  = LockInfo{Key: key}
		since *time.Time
	)
	err := conn.QueryRow(ctx, q).Scan(&info.PID, &info.ApplicationName, &info.Client, &since)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deploy lock holder: %w", err)
	}
	if since != nil {
		info.Since = *since
	}
	info.Runbook, info.Operator = parseAppName(info.ApplicationName)
	return &info, nil
}

// parseAppName reads back the runbook and operator of a handrail
// application_name ("handrail/RUNBOOK/OPERATOR"); "" for anything else.
func parseAppName(name string) (runbook, operator string) {
	rest, ok := strings.CutPrefix(name, "handrail/")
	if !ok {
		return "", ""
	}
	runbook, operator, _ = strings.Cut(rest, "/")
	return runbook, operator
}

// ReleaseDeployLock releases the deploy lock. If the lock connection is
// gone the server has already released it, and that is not an error.
func (t *Target) ReleaseDeployLock(ctx context.Context, key int64) error {
	t.lockMu.Lock()
	defer t.lockMu.Unlock()
	if !t.held[key] {
		return nil
	}
	delete(t.held, key)
	if t.lock == nil || t.lock.IsClosed() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	var released bool
	if err := t.lock.QueryRow(ctx, fmt.Sprintf("select pg_advisory_unlock(%d)", key)).Scan(&released); err != nil {
		if IsConnectionLost(err) || t.lock.IsClosed() {
			return nil
		}
		return fmt.Errorf("release deploy lock: %w", err)
	}
	if !released {
		return errors.New("release deploy lock: the lock connection did not hold it (was its session replaced?)")
	}
	return nil
}

// DeployLockHeld asks the server whether the lock connection still holds
// the deploy lock: after Reconnect, or to show on screen. false with a nil
// error means it does not (the lock connection was lost and replaced).
func (t *Target) DeployLockHeld(ctx context.Context, key int64) (bool, error) {
	t.lockMu.Lock()
	defer t.lockMu.Unlock()
	if t.lock == nil || t.lock.IsClosed() {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	classid, objid := advisoryKeyParts(key)
	var held bool
	err := t.lock.QueryRow(ctx, fmt.Sprintf(`select exists(select 1 from pg_locks l
where l.granted and l.pid = pg_backend_pid() and `+advisoryLockWhere+`)`, classid, objid)).Scan(&held)
	if err != nil {
		if IsConnectionLost(err) || t.lock.IsClosed() {
			delete(t.held, key)
			return false, nil
		}
		return false, fmt.Errorf("deploy lock: %w", err)
	}
	if !held {
		delete(t.held, key)
	}
	return held, nil
}

// LockPID is the backend pid of the lock connection.
func (t *Target) LockPID() int {
	t.lockMu.Lock()
	defer t.lockMu.Unlock()
	if t.lock == nil {
		return 0
	}
	return int(t.lock.PgConn().PID())
}
