package db

import (
	"errors"
	"testing"
)

// A Single target (handrail check) has one connection: the side work runs
// on it, and the deploy lock is refused with a reason that says why, not
// as a closed connection that never was.
func TestSingleTargetSideWorkAndNoDeployLock(t *testing.T) {
	ctx := tgCtx(t)
	tg, err := Connect(ctx, tbTarget(t, sharedSandbox.DSN("postgres")), ConnectOptions{AppName: "handrail/test/single", Single: true})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(tg.Close)

	res, err := tg.SideQuery(ctx, "select pg_backend_pid()", 1)
	if err != nil {
		t.Fatalf("SideQuery: %v", err)
	}
	if got := res.Rows[0][0]; got != int32(tg.WorkPID()) {
		t.Fatalf("side query ran on backend %v, want the work connection's %d", got, tg.WorkPID())
	}

	key := LockKey("single-target-test")
	ok, holder, err := tg.TryDeployLock(ctx, key)
	if ok || holder != nil || !errors.Is(err, errSingleNoLock) {
		t.Fatalf("TryDeployLock = %v, %v, %v; want a refusal naming the Single target", ok, holder, err)
	}
	res, err = tg.SideQuery(ctx, "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()", 1)
	if err != nil || res.Rows[0][0] != int64(0) {
		t.Fatalf("advisory locks after the refusal: %v, %v; want none", res.Rows, err)
	}
}
