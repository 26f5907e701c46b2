package postgres

import (
	"strings"
	"testing"
)

func TestStartPlanFollowsSnapshotModeOffsetAndSlot(t *testing.T) {
	streamed := map[string]any{offsetLSN: int64(900), offsetLSNCommit: int64(800), offsetEventSerial: int64(3), offsetTxID: int64(7)}
	midSnapshot := map[string]any{offsetLSN: int64(100), offsetSnapshot: true, offsetLastSnapshot: false}
	snapshotDone := map[string]any{offsetLSN: int64(100), offsetSnapshot: true, offsetLastSnapshot: true}
	for _, tc := range []struct {
		mode       string
		offset     map[string]any
		slotExists bool
		snapshot   bool
		dropSlot   bool
		err        string
		dropOnStop bool
	}{
		{mode: SnapshotInitial, offset: nil, slotExists: false, snapshot: true},
		{mode: SnapshotInitial, offset: nil, slotExists: true, snapshot: true, dropSlot: true},
		{mode: SnapshotInitial, offset: midSnapshot, slotExists: true, snapshot: true, dropSlot: true},
		{mode: SnapshotInitial, offset: snapshotDone, slotExists: true},
		{mode: SnapshotInitial, offset: streamed, slotExists: true},
		{mode: SnapshotInitial, offset: streamed, slotExists: false, err: "replication slot s does not exist"},
		{mode: SnapshotWhenNeeded, offset: streamed, slotExists: false, snapshot: true},
		{mode: SnapshotWhenNeeded, offset: streamed, slotExists: true},
		{mode: SnapshotAlways, offset: streamed, slotExists: true, snapshot: true, dropSlot: true},
		{mode: SnapshotNoData, offset: nil, slotExists: false},
		{mode: SnapshotNoData, offset: nil, slotExists: true},
		{mode: SnapshotNoData, offset: streamed, slotExists: false, err: "when_needed"},
		{mode: SnapshotInitialOnly, offset: nil, slotExists: false, snapshot: true},
		// slot.drop.on.stop: a missing slot was dropped on purpose; stream from a new one.
		{mode: SnapshotInitial, offset: streamed, slotExists: false, dropOnStop: true},
		{mode: SnapshotWhenNeeded, offset: streamed, slotExists: false, dropOnStop: true, snapshot: true},
	} {
		p, err := planStart(&config{snapshotMode: tc.mode, slot: "s", topicPrefix: "x", slotDropOnStop: tc.dropOnStop}, tc.offset, tc.slotExists)
		name := tc.mode + " " + map[bool]string{true: "slot", false: "no slot"}[tc.slotExists]
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %v: err %v, want %q", name, tc.offset, err, tc.err)
			}
			continue
		}
		if err != nil || p.snapshot != tc.snapshot || p.dropSlot != tc.dropSlot {
			t.Errorf("%s %v: %+v %v; want snapshot %v drop %v", name, tc.offset, p, err, tc.snapshot, tc.dropSlot)
		}
	}
	p, _ := planStart(&config{snapshotMode: SnapshotInitial}, streamed, true)
	if p.resume.commitLSN != 800 || p.resume.serial != 3 {
		t.Errorf("resume point %+v, want lsn_commit 800, event 3", p.resume)
	}
	p, _ = planStart(&config{snapshotMode: SnapshotInitial}, snapshotDone, true)
	if p.resume.commitLSN != 0 || p.resume.serial != -1 {
		t.Errorf("resume point after a snapshot %+v, want none", p.resume)
	}
}
