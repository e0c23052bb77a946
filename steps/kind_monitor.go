package steps

import (
	"context"
	"fmt"
	"strings"
)

// KindMonitor: a timed window that re-runs read-only queries, with alert
// conditions and manual watch items; it can be ended early with a reason.
const KindMonitor Kind = "monitor"

func init() { registerKind(monitorKind{}) }

type monitorKind struct{}

func (monitorKind) spec() kindSpec {
	return kindSpec{
		kind: KindMonitor, order: 60,
		keys: []string{"duration", "every", "queries", "watch"},
		doc: KindDoc{
			Summary: "a timed window that re-runs queries live, with alerts",
			Doc: "`enter` opens the window: every `every` its queries run again (read-only) and show live, an `alert` that holds is " +
				"raised and journaled, and `watch` lists what to watch elsewhere. It ends after `duration`, or early with a reason (`e`).",
			Required: []string{"duration", "every"},
			AnyOf:    [][]string{{"queries", "watch"}},
			Example: `[[phase.step]]
kind = "monitor"
id = "monitor-15m"
title = "Monitor for 15 minutes"
duration = "15m"
every = "30s"
watch = ["API error rate at its usual level"]
queries = [{ title = "Waiting locks", sql = "select count(*) as waiting from pg_locks where not granted", alert = "waiting > 0" }]`,
		},
	}
}

func (monitorKind) validate(v *validator, ref stepRef) {
	s, p := ref.s, ref.p
	dur, every := s.Duration.Duration, s.Every.Duration
	v.require(ref, "duration", v.has(p, "duration"), `duration = "15m"`)
	v.require(ref, "every", v.has(p, "every"), `every = "30s"`)
	if v.has(p, "duration") && dur <= 0 && !v.bad(addPath(p, "duration")) {
		v.at(addPath(p, "duration"), Error, "", "duration must be positive")
	}
	if v.has(p, "every") && every <= 0 && !v.bad(addPath(p, "every")) {
		v.at(addPath(p, "every"), Error, "", "every must be positive")
	}
	if dur > 0 && every > dur {
		v.at(addPath(p, "every"), Error, "", "every (%s) is longer than duration (%s)", every, dur)
	}
	if len(s.Queries) == 0 && len(s.Watch) == 0 && !v.bad(addPath(p, "queries")) && !v.bad(addPath(p, "watch")) {
		v.at(p, Error, `add [[phase.step.queries]] with title and sql, or watch = ["..."]`, "monitor step %q has nothing to watch", s.ID)
	}
	if len(s.Queries) > MaxMonitorQueries {
		v.at(addPath(p, "queries"), Error, "split the monitor into several steps", "monitor step %q has %d queries; at most %d are allowed", s.ID, len(s.Queries), MaxMonitorQueries)
	}
	for i, q := range s.Queries {
		qp := addPath(p, "queries", idxSeg(i))
		if strings.TrimSpace(q.SQL) == "" {
			v.at(qp, Error, `sql = "select ..."`, "monitor query has no sql")
		} else {
			v.checkReadOnlySQL(q.SQL, addPath(qp, "sql"), "monitor query")
		}
		if q.Alert != "" {
			if _, err := ParseAlert(q.Alert); err != nil {
				v.at(addPath(qp, "alert"), Error, `e.g. alert = "waiting > 0"`, "bad alert: %v", err)
			}
		}
	}
}

func (monitorKind) plan(_ *Runbook, s Step, _ bool, p *PlannedStep) {
	p.Watch, p.Duration = s.Watch, s.Duration.Duration
}

// run: see engine_monitor.go.
func (monitorKind) run(e *Engine, ctx context.Context, i int, run bool) (flow, error) {
	return e.runMonitor(ctx, i, run)
}

func (monitorKind) acceptsActive(st *StepState, t CommandType, _ bool) (bool, string) {
	return st.acceptsReadOnly(t)
}

// acceptsRunning: an open window is ended early (with a reason), not
// cancelled.
func (monitorKind) acceptsRunning(_ *StepState, t CommandType) (bool, string) {
	if t == CmdEndMonitor {
		return true, ""
	}
	return false, "the monitoring window is open: wait for it to end, or end it early with a reason"
}

// operate opens the window, and asks the operator whether to end it early
// while it is open.
func (monitorKind) operate(st *StepState, _ Step, op Operator) (Command, bool) {
	if st.Status != StatusRunning {
		return nextWhenActive(st)
	}
	a, ok := op.Answer(Question{Step: st.ID, Kind: KindMonitor, Form: FormEndEarly, Alerts: st.Alerts})
	if !ok {
		return Command{}, false
	}
	return Command{Type: CmdEndMonitor, Text: a.Text}, true
}

func (monitorKind) questions(Step) []Question { return nil }

func (monitorKind) checks(Step) []checkQuery { return nil }

// Alert is a parsed monitor alert condition: Column Op Value.
type Alert struct {
	Column string
	Op     string // one of > >= < <= = !=
	Value  string
}

var alertOps = []string{">=", "<=", "!=", "<>", "=", ">", "<"}

// ParseAlert parses "column op value", e.g. "waiting > 0".
func ParseAlert(s string) (Alert, error) {
	for i := 0; i < len(s); i++ {
		for _, op := range alertOps {
			if strings.HasPrefix(s[i:], op) {
				a := Alert{Column: strings.TrimSpace(s[:i]), Op: op, Value: strings.TrimSpace(s[i+len(op):])}
				if a.Op == "<>" {
					a.Op = "!="
				}
				if a.Column == "" || a.Value == "" || strings.ContainsAny(a.Column, " \t") {
					return Alert{}, fmt.Errorf("%q is not \"column op value\"", s)
				}
				return a, nil
			}
		}
	}
	return Alert{}, fmt.Errorf("%q has no operator (> >= < <= = !=)", s)
}
