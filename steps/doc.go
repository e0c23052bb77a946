// Package steps holds the runbook model: TOML decoding and lint, the step
// kinds, the engine that executes a runbook, its events, and the pure fold
// State = Apply(State, Event). It never imports Bubble Tea.
//
// # Adding a step kind
//
// A step kind is one unit: a type implementing kindUnit (kind.go), in a
// file of its own, that registers itself. Adding a kind touches these
// files, and no others:
//
//  1. steps/kind_<name>.go: the Kind constant, and a type with every
//     method of kindUnit: spec (name, place in Kinds, the step keys it
//     takes, whether it writes, its reference documentation), validate
//     (lint; use the validator's at/inText/require/checkReadOnlySQL so
//     problems carry file:line:col, or a path for a runbook built in
//     code), plan (what the screens show before it runs), run (the
//     engine: emit events through e.emit, wait for the operator with
//     e.await), acceptsActive and acceptsRunning (which commands it takes
//     and why not, in the engine's words: the screen's keys come from
//     these), operate and questions (how the autopilot and an unattended
//     apply answer what it asks a person, as Questions of a Form), checks
//     (the read-only queries `handrail check` runs). Its init calls
//     registerKind. Large engine code may sit beside it in
//     engine_<name>.go, as sql's, check's, monitor's, exec's and
//     message's do.
//  2. ui/pane_<name>.go: its pane and its keys, registered for the kind
//     (see package ui).
//  3. docs/runbook.md and docs/runbook.schema.json, generated from spec's
//     documentation: go test ./steps/runbookdoc -update.
//
// A kind that needs keys no kind has adds them to Step (runbook.go) and
// documents them in runbookdoc's [[phase.step]] table; one that needs
// events of its own declares them in event.go and folds them in state.go.
//
// Nothing falls back silently: a missing method does not compile, and
// TestEveryKindIsComplete (steps) and TestEveryKindHasAPane (ui) walk
// Kinds and fail for a kind without its data, its documentation, its
// pane or its keys.
package steps
