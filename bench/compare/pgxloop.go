package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/handrail-dev/handrail/steps/sqlscan"
)

// pgxCommand is the hidden subcommand of the third side, the floor of any
// Go client: the psql side's statements sent one by one through pgx (the
// driver handrail uses), with nothing of handrail around them.
const pgxCommand = "__pgx-loop"

// pgxMain runs the statements of -file (psql meta-commands skipped) on one
// connection with pgconn's simple protocol, as psql sends them, reading
// and discarding every result; -tx wraps them in BEGIN ... COMMIT (psql
// -1).
func pgxMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(pgxCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "SQL file")
	tx := fs.Bool("tx", false, "one transaction")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := pgxLoop(os.Getenv(dsnEnv), *file, *tx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", pgxCommand, err)
		return 1
	}
	return 0
}

func pgxLoop(dsn, file string, tx bool) error {
	if dsn == "" || file == "" {
		return errors.New("need -file and $" + dsnEnv)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var stmts []string
	for _, s := range sqlscan.SplitStatements(string(b)) {
		if !strings.HasPrefix(s.SQL, `\`) {
			stmts = append(stmts, s.SQL)
		}
	}
	if tx {
		stmts = slices.Concat([]string{"begin"}, stmts, []string{"commit"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		mrr := conn.PgConn().Exec(ctx, s)
		for mrr.NextResult() {
			rr := mrr.ResultReader()
			for rr.NextRow() {
			}
			if _, err := rr.Close(); err != nil {
				mrr.Close()
				return fmt.Errorf("%.60s: %w", s, err)
			}
		}
		if err := mrr.Close(); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	return nil
}

// fsyncLatency is the median time of an fsync after a one-line append in
// dir (where the journals go), measured n times.
func fsyncLatency(dir string, n int) (time.Duration, error) {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	line := []byte(`{"seq":1,"type":"step_started","step":"check-001","prev":"0000000000000000000000000000000000000000000000000000000000000000"}` + "\n")
	ds := make([]time.Duration, 0, n)
	for range n {
		if _, err := f.Write(line); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := f.Sync(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	return median(ds), nil
}
