package steps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Monitor defaults when the runbook leaves them out.
const (
	defaultMonitorEvery = 10 * time.Second
	minMonitorQueryWait = time.Second
)

// runMonitor starts on CmdNext (at once in the rollback): every `every`
// it runs each query on the side connection (monitor_tick) and checks its
// alert (monitor_alert). It ends when the window elapses, or early on
// CmdEndMonitor with a reason.
func (e *Engine) runMonitor(ctx context.Context, i int, run bool) (flow, error) {
	if ok, f, err := e.gate(ctx, i, run); !ok {
		return f, err
	}
	s := e.plan[i].step
	every := s.Every.Duration
	if every <= 0 {
		every = defaultMonitorEvery
	}
	end := time.Now().Add(s.Duration.Duration)
	if err := e.monitorTick(ctx, i, end, every); err != nil {
		return flowQuit, err
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	window := time.NewTimer(time.Until(end))
	defer window.Stop()
	h := handlers{CmdEndMonitor: func(c Command) (flow, bool, error) {
		reason := c.Text
		if c.Secret {
			reason = "ended early by the operator"
		}
		f, err := e.endMonitor(i, reason)
		return f, true, err
	}}
	for {
		if c, ok := e.pop(); ok {
			if f, done, err := e.answer(c, "while the monitor window is open", h); done || err != nil {
				return f, err
			}
			continue
		}
		e.signalIdle()
		select {
		case <-e.wake:
		case <-ticker.C:
			if err := e.monitorTick(ctx, i, end, every); err != nil {
				return flowQuit, err
			}
		case <-window.C:
			return e.endMonitor(i, "")
		case <-ctx.Done():
			return flowQuit, ctx.Err()
		}
	}
}

// endMonitor closes the window: elapsed (reason == "") or ended early by
// the operator, which the step's result says with how long it ran.
func (e *Engine) endMonitor(i int, reason string) (flow, error) {
	id := e.plan[i].info.ID
	if err := e.emit(Event{Type: EvMonitorEnded, Step: id, Text: reason}); err != nil {
		return flowQuit, err
	}
	window := e.plan[i].step.Duration.Duration
	var ran time.Duration
	e.with(func(s *State) { ran = s.Steps[i].WindowRan })
	text := fmt.Sprintf("monitoring window of %s elapsed", window)
	if reason != "" {
		text = fmt.Sprintf("ended early after %s of %s: %s", ran.Round(time.Second), window, reason)
	}
	return flowNext, e.emit(Event{Type: EvStepSucceeded, Step: id, Text: text})
}

// monitorTick runs every query once, each bounded so a slow query cannot
// stall the window.
func (e *Engine) monitorTick(ctx context.Context, i int, end time.Time, every time.Duration) error {
	s := e.plan[i].step
	id := e.plan[i].info.ID
	wait := max(min(every, e.rb.StatementTimeout()), minMonitorQueryWait)
	for q, mq := range s.Queries {
		sample := e.monitorQuery(ctx, q, mq, wait)
		sample.Remaining = max(time.Until(end), 0).Round(time.Second)
		if err := e.emit(Event{Type: EvMonitorTick, Step: id, Monitor: &sample}); err != nil {
			return err
		}
		if sample.Alerting {
			cp := sample
			text := fmt.Sprintf("%s: %s (now %s)", mq.Title, mq.Alert, alertValue(mq.Alert, sample))
			if err := e.emit(Event{Type: EvMonitorAlert, Step: id, Monitor: &cp, Text: text}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) monitorQuery(ctx context.Context, q int, mq MonitorQuery, wait time.Duration) MonitorSample {
	sample := MonitorSample{Query: q, Title: mq.Title}
	qctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	res, err := e.target.SideQuery(qctx, mq.SQL, e.rb.KeepRows())
	if err != nil {
		sample.Error = queryError(err)
		return sample
	}
	sample.Columns = res.Columns
	sample.Rows = formatRows(res.Rows)
	if mq.Alert != "" && len(res.Rows) > 0 {
		alerting, aerr := evalAlert(mq.Alert, res.Columns, sample.Rows[0])
		if aerr != nil {
			sample.Error = aerr.Error()
		}
		sample.Alerting = alerting
	}
	return sample
}

// evalAlert evaluates "column op value" (op one of > >= < <= = !=) on a
// formatted row: numerically when both sides are numbers, else as text.
func evalAlert(cond string, columns []string, row []string) (bool, error) {
	col, op, want, err := parseAlert(cond)
	if err != nil {
		return false, err
	}
	k := indexOf(columns, col)
	if k < 0 || k >= len(row) {
		return false, fmt.Errorf("alert %q: the query has no column %q", cond, col)
	}
	got := row[k]
	g, gerr := strconv.ParseFloat(got, 64)
	w, werr := strconv.ParseFloat(want, 64)
	if gerr == nil && werr == nil {
		return compare(op, cmpFloat(g, w)), nil
	}
	return compare(op, strings.Compare(got, want)), nil
}

// parseAlert is ParseAlert with the value's quotes removed.
func parseAlert(cond string) (col, op, value string, err error) {
	a, err := ParseAlert(cond)
	if err != nil {
		return "", "", "", fmt.Errorf("alert %w", err)
	}
	return a.Column, a.Op, strings.Trim(a.Value, `'"`), nil
}

func compare(op string, c int) bool {
	switch op {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	default: // !=
		return c != 0
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// alertValue is the current value of the alert's column, for the message.
func alertValue(cond string, s MonitorSample) string {
	col, _, _, err := parseAlert(cond)
	k := indexOf(s.Columns, col)
	if err != nil || k < 0 || len(s.Rows) == 0 || k >= len(s.Rows[0]) {
		return "?"
	}
	return s.Rows[0][k]
}
