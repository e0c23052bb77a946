// Package runbooks embeds the example runbooks so the binary can run them
// without a checkout (`handrail run connect-rls-hardening`, `handrail demo`).
package runbooks

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
)

// FS holds one directory per example runbook, each with its runbook.toml
// and the SQL files it references.
//
//go:embed all:connect-rls-hardening all:tenant-rls-fix
var FS embed.FS

// Names lists the embedded runbooks, sorted.
func Names() []string {
	entries, err := FS.ReadDir(".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// Sub returns the file system of one embedded runbook, rooted at its
// directory (so "runbook.toml" opens its runbook file).
func Sub(name string) (fs.FS, error) {
	if !slices.Contains(Names(), name) {
		return nil, fmt.Errorf("no embedded runbook %q (have: %v)", name, Names())
	}
	return fs.Sub(FS, name)
}
