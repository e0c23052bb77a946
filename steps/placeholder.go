package steps

import "strings"

// Placeholders `handrail new` writes where only the author knows the
// answer. Lint warns while they are still there: the runbook is usable
// against the demo sandbox, but not yet against a real database (the
// identity check stops a placeholder project_id, since nothing real is
// stamped with it and it is not a Supabase project ref).
const (
	PlaceholderTargetName = "TODO: target name"
	PlaceholderProjectID  = "replace-with-project-id"
)

func isPlaceholder(v, placeholder string) bool {
	return strings.EqualFold(strings.TrimSpace(v), placeholder)
}

// validatePlaceholders warns about every placeholder still in [target].
func (v *validator) validatePlaceholders(t *Target) {
	tp := []string{"target"}
	if isPlaceholder(t.Name, PlaceholderTargetName) {
		v.at(addPath(tp, "name"), Warning, `name the database as the operator knows it, e.g. name = "Acme-Prod"; it is shown in the header`,
			"[target] name is still the placeholder %q", t.Name)
	}
	if isPlaceholder(t.ProjectID, PlaceholderProjectID) {
		v.at(addPath(tp, "project_id"), Warning,
			"set it to the id of the one database this runbook may change: its Supabase project ref, or the id you stamp it with (handrail stamp --db DSN --id ID)",
			"[target] project_id is still the placeholder %q: against a real database handrail stops at the identity check until it is the real id", t.ProjectID)
	}
}
