package steps

import "testing"

// The placeholders `handrail new` writes are warnings that say what to
// put there, and they replace the "not a Supabase ref" warning rather
// than pile on it.
func TestPlaceholderWarnings(t *testing.T) {
	dir := writeRunbook(t, map[string]string{"runbook.toml": `[runbook]
id = "scaffolded"

[target]
name = "TODO: target name"
project_id = "replace-with-project-id"
identity = ["stamp", "supabase"]

[[phase]]
title = "Work"
  [[phase.step]]
  kind = "manual"
  id = "look"
`})
	_, ps := Load(dir)
	matchProblems(t, ps, []problemLine{
		{"runbook.toml", 5, Warning, `name is still the placeholder "TODO: target name"`},
		{"runbook.toml", 6, Warning, `project_id is still the placeholder "replace-with-project-id"`},
	})
	for _, p := range ps {
		if p.Hint == "" {
			t.Errorf("%s: no hint", p)
		}
	}
}

func TestStepKeys(t *testing.T) {
	for _, k := range Kinds {
		keys := StepKeys(k)
		if len(keys) <= len(commonStepKeys) || keys[0] != "kind" {
			t.Errorf("StepKeys(%s) = %v", k, keys)
		}
		keys[0] = "changed" // a copy: the table stays as it is
	}
	if StepKeys(KindSQL)[0] != "kind" || StepKeys("nope") != nil {
		t.Error("StepKeys hands out its table, or knows an unknown kind")
	}
}
