// Package steps holds the runbook model: TOML decoding and lint, the step
// kinds, the engine that executes a runbook, its events, and the pure fold
// State = Apply(State, Event). It never imports Bubble Tea.
//
// # Adding a step kind
//
// A step kind is one unit in steps and one pane in ui, each a type in a
// file of its own that registers itself. Adding a kind touches these
// files, and no others:
//
//  1. steps/kind_<name>.go: the Kind constant, and a type with every
//     method of kindUnit (kind.go, and below), registered by the file's
//     init with registerKind. A large engine part may sit beside it in
//     engine_<name>.go, as the sql, check, monitor, exec and message
//     kinds' do.
//  2. ui/pane_<name>.go: a type with every method of ui's kindPane (its
//     pane, its own command keys, what enter does), registered by the
//     file's init with registerPane; it may also copy text (copier),
//     move a cursor (cursorPane) or follow an output (outputPane).
//  3. docs/runbook.md and docs/runbook.schema.json, regenerated from the
//     spec's documentation: go test ./steps/runbookdoc -update.
//
// What a kind provides (kindUnit):
//
//   - spec: its data: its name, its place in Kinds, the step keys it
//     takes, whether it writes (and how), whether it verifies the target,
//     and its reference documentation (summary, text, required keys, an
//     example);
//   - validate: lint's checks of one step; the validator's at, inText,
//     require and checkReadOnlySQL position problems at file:line:col, or
//     at the key's path for a runbook built in code;
//   - plan: what the screens show of the step before it runs;
//   - run: how the engine runs it (events through e.emit; the operator
//     through e.gate and e.await);
//   - acceptsActive, acceptsRunning: which commands it takes while it
//     waits and while it runs, and why not, in the engine's words (the
//     screen's keys, footer and help come from these);
//   - operate, questions: how a scripted operator (the autopilot, an
//     unattended apply) answers what it asks a person, as Questions of a
//     Form;
//   - checks: the read-only queries `handrail check` and `plan` run.
//
// A kind that needs keys no kind has adds them to Step (runbook.go) and
// documents them in runbookdoc's [[phase.step]] table (a test fails until
// it does); one that needs events of its own declares them in event.go,
// folds them in state.go and prints them in journal's transcript.
//
// Nothing falls back silently. A missing method does not compile.
// TestEveryKindIsComplete (steps) walks Kinds and fails for a kind whose
// spec lacks its name, its place, its documentation, or a reason for a
// command it refuses; TestEveryKindHasAPane (ui) fails for a kind without
// a pane, and runbookdoc's tests for one whose example does not lint or
// whose docs were not regenerated. No test has to change for a new kind.
package steps
