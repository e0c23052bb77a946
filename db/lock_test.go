package db

import (
	"testing"
	"time"
)

func TestLockKey(t *testing.T) {
	// Stable across releases: operators on different handrail versions
	// must still collide on the same database. Computed independently:
	// printf 'handrail:deploy:rxlqtyfhsocxnsnnnlwl' | sha256sum
	// → b59d2d05381335e8 (first 8 bytes, big-endian, as int64).
	const want = int64(-5360078481062152728)
	if got := LockKey("rxlqtyfhsocxnsnnnlwl"); got != want {
		t.Fatalf("LockKey changed: got %d, want %d", got, want)
	}
	if LockKey("prod") == LockKey("staging") {
		t.Error("different projects share a key")
	}
}

func TestParseAppName(t *testing.T) {
	for _, tc := range []struct{ in, runbook, operator string }{
		{"handrail/connect-rls-hardening/alice", "connect-rls-hardening", "alice"},
		{"handrail/tenant-rls-fix/bob/x", "tenant-rls-fix", "bob/x"},
		{"psql", "", ""},
		{"handrail-check/x", "", ""},
	} {
		if r, o := parseAppName(tc.in); r != tc.runbook || o != tc.operator {
			t.Errorf("parseAppName(%q) = %q, %q; want %q, %q", tc.in, r, o, tc.runbook, tc.operator)
		}
	}
}

func TestDeployLock(t *testing.T) {
	t.Parallel()
	env := tgNewEnv(t, SandboxOptions{})
	dbname := env.database(t)
	ctx := tgCtx(t)
	admin := env.admin(t, dbname)
	key := LockKey("rxlqtyfhsocxnsnnnlwl")

	first := env.connect(t, dbname, ConnectOptions{AppName: "handrail/connect-rls-hardening/alice"})
	ok, holder, err := first.TryDeployLock(ctx, key)
	if err != nil || !ok || holder != nil {
		t.Fatalf("first TryDeployLock = %v, %+v, %v", ok, holder, err)
	}
	// Taking it again is a no-op, not a second hold.
	if ok, _, err := first.TryDeployLock(ctx, key); err != nil || !ok {
		t.Fatalf("re-take = %v, %v", ok, err)
	}
	if held, err := first.DeployLockHeld(ctx, key); err != nil || !held {
		t.Fatalf("DeployLockHeld = %v, %v", held, err)
	}

	second := env.connect(t, dbname, ConnectOptions{AppName: "handrail/connect-rls-hardening/bob"})
	ok, holder, err = second.TryDeployLock(ctx, key)
	if err != nil || ok {
		t.Fatalf("second TryDeployLock = %v, %v; want refused", ok, err)
	}
	if holder == nil || holder.PID != first.LockPID() || holder.ApplicationName != "handrail/connect-rls-hardening/alice" ||
		holder.Client != "127.0.0.1" || holder.Key != key || time.Since(holder.Since) > time.Minute {
		t.Fatalf("holder = %+v; want pid %d (the first session's lock connection), alice, 127.0.0.1", holder, first.LockPID())
	}
	// The refusal did not wait, and statements on the work connection do
	// not touch the lock.
	if err := first.RunTransaction(ctx, SQLs{"select pg_advisory_unlock_all()"}, ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := second.TryDeployLock(ctx, key); ok {
		t.Fatal("a statement on the work connection released the deploy lock")
	}
	// A different runbook or project is a different lock.
	if ok, _, err := second.TryDeployLock(ctx, LockKey("mohctrsopquwoyfweadl")); err != nil || !ok {
		t.Fatalf("other key = %v, %v", ok, err)
	}

	t.Run("holder found for a negative key", func(t *testing.T) {
		// The high bit lands in pg_locks.classid, an unsigned oid.
		const neg = int64(-0x7edcba9876543210)
		a := env.connect(t, dbname, ConnectOptions{AppName: "handrail/neg/a"})
		b := env.connect(t, dbname, ConnectOptions{AppName: "handrail/neg/b"})
		if ok, _, err := a.TryDeployLock(ctx, neg); err != nil || !ok {
			t.Fatalf("a: %v, %v", ok, err)
		}
		ok, holder, err := b.TryDeployLock(ctx, neg)
		if err != nil || ok || holder == nil || holder.PID != a.LockPID() || holder.ApplicationName != "handrail/neg/a" {
			t.Fatalf("b: %v, %+v, %v", ok, holder, err)
		}
	})

	t.Run("released on Close", func(t *testing.T) {
		first.Close()
		tgWaitUntil(t, "the second session to get the lock", 10*time.Second, func() bool {
			ok, _, err := second.TryDeployLock(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		})
		if err := second.ReleaseDeployLock(ctx, key); err != nil {
			t.Fatal(err)
		}
		if held, err := second.DeployLockHeld(ctx, key); err != nil || held {
			t.Fatalf("after release DeployLockHeld = %v, %v", held, err)
		}
	})

	t.Run("released when the lock connection is terminated", func(t *testing.T) {
		third := env.connect(t, dbname, ConnectOptions{AppName: "handrail/connect-rls-hardening/carol"})
		if ok, _, err := third.TryDeployLock(ctx, key); err != nil || !ok {
			t.Fatalf("third TryDeployLock = %v, %v", ok, err)
		}
		if ok, holder, _ := second.TryDeployLock(ctx, key); ok || holder == nil || holder.PID != third.LockPID() {
			t.Fatalf("second got %v, holder %+v; want refused by %d", ok, holder, third.LockPID())
		}
		var terminated bool
		if err := admin.QueryRow(ctx, "select pg_terminate_backend($1, 10000)", third.LockPID()).Scan(&terminated); err != nil || !terminated {
			t.Fatalf("pg_terminate_backend = %v, %v", terminated, err)
		}
		tgWaitUntil(t, "the second session to get the lock", 10*time.Second, func() bool {
			ok, _, err := second.TryDeployLock(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		})
		// The third session finds out it lost the lock; Reconnect gives
		// it a new lock connection, without the lock.
		if held, _ := third.DeployLockHeld(ctx, key); held {
			t.Fatal("DeployLockHeld says yes after the lock connection was terminated")
		}
		if err := third.Reconnect(ctx); err != nil {
			t.Fatal(err)
		}
		if ok, holder, err := third.TryDeployLock(ctx, key); err != nil || ok || holder.PID != second.LockPID() {
			t.Fatalf("third after reconnect: %v, %+v, %v; want refused by the second", ok, holder, err)
		}
	})
}
