package ui

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/handrail-dev/handrail/steps"
)

// A delivery that carried a statement stream spaces the next one by
// streamGap; any other delivery by the frame rate's minBatchGap; a full
// one (the screen is behind the session) by nothing.
func TestGapAfterStream(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  tea.Msg
		want time.Duration
	}{
		{"a lone step event", stepEventMsg{steps.Event{Type: steps.EvStepSucceeded}}, minBatchGap},
		{"a lone statement", stepEventMsg{steps.Event{Type: steps.EvStatementFinished}}, streamGap},
		{"a batch of statements", eventBatchMsg{{Type: steps.EvStatementFinished}, {Type: steps.EvStatementStarted}}, streamGap},
		{"a batch ending a stream", eventBatchMsg{{Type: steps.EvStatementFinished}, {Type: steps.EvStepSucceeded}}, streamGap},
		{"rows", eventBatchMsg{{Type: steps.EvRows}}, streamGap},
		{"a batch without statements", eventBatchMsg{{Type: steps.EvLockWait}, {Type: steps.EvNotice}}, minBatchGap},
		{"the end of the events", eventsClosedMsg{}, minBatchGap},
		{"a full batch: the screen is behind", make(eventBatchMsg, maxBatch), 0},
		{"a full batch of statements", fullStream(), 0},
	} {
		if got := gapAfter(c.msg); got != c.want {
			t.Errorf("%s: gap %v, want %v", c.name, got, c.want)
		}
	}
	if streamGap <= minBatchGap {
		t.Fatalf("streamGap %v must be longer than minBatchGap %v", streamGap, minBatchGap)
	}
}

// fullStream is a delivery of maxBatch statement events: drain found as
// many waiting, so more may be.
func fullStream() eventBatchMsg {
	b := make(eventBatchMsg, maxBatch)
	for i := range b {
		b[i].Type = steps.EvStatementFinished
	}
	return b
}

// drain hands over what was waiting in one batch, in order, and a lone
// event as itself.
func TestDrainBatches(t *testing.T) {
	ch := make(chan steps.Event, 8)
	if msg, ok := drain(ch, steps.Event{Seq: 1}).(stepEventMsg); !ok || msg.Seq != 1 {
		t.Fatalf("lone event: %#v", msg)
	}
	ch <- steps.Event{Seq: 2}
	ch <- steps.Event{Seq: 3}
	batch, ok := drain(ch, steps.Event{Seq: 1}).(eventBatchMsg)
	if !ok || len(batch) != 3 || batch[0].Seq != 1 || batch[2].Seq != 3 {
		t.Fatalf("batch: %#v", batch)
	}
}
