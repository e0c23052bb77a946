package db

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A refused password names where it came from (PGPASSWORD, the password
// file, the service file, the connection string) or says none was given:
// "password authentication failed" alone sent an operator whose --db had
// no password looking in the wrong place.
func TestConnectPasswordRefusedSaysWhereItCameFrom(t *testing.T) {
	sb := sharedSandbox
	base := fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", sb.Port(), sb.User())
	dir := t.TempDir()
	pass := filepath.Join(dir, "pgpass")
	if err := os.WriteFile(pass, []byte(fmt.Sprintf("127.0.0.1:%d:*:%s:wrong\n", sb.Port(), sb.User())), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := filepath.Join(dir, "services")
	if err := os.WriteFile(svc, []byte("[bad]\npassword=wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "none")
	for _, c := range []struct {
		name, conn string
		env        map[string]string
		want       string
	}{
		{"PGPASSWORD", base, map[string]string{"PGPASSWORD": "wrong"}, "the password from PGPASSWORD was refused"},
		{"password file", base, map[string]string{"PGPASSFILE": pass}, "the password from the password file " + pass + " was refused"},
		{"service file", base + " service=bad servicefile=" + svc, nil, "the password from the service file " + svc + " was refused"},
		{"connection string", base + " password=wrong", nil, "the password from the connection string (DSN) was refused"},
		{"none", base, nil, "no password was given"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PGPASSWORD", "")
			t.Setenv("PGPASSFILE", empty)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			target, err := ParseTarget(c.conn)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Connect(tgCtx(t), target, ConnectOptions{Single: true})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v\nwant it to say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "=wrong") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}
