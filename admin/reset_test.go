package admin

import (
	"strings"
	"testing"
	"time"
)

func TestPlanResetOffsetClampsToTheLog(t *testing.T) {
	p := PartitionOffsets{Committed: 5, Start: 2, End: 8, AtTime: -1}
	noCommit := PartitionOffsets{Committed: -1, Start: 2, End: 8, AtTime: 6}
	for _, c := range []struct {
		name string
		s    ResetStrategy
		p    PartitionOffsets
		want int64
	}{
		{"earliest", ResetStrategy{Kind: ResetToEarliest}, p, 2},
		{"latest", ResetStrategy{Kind: ResetToLatest}, p, 8},
		{"to-offset inside", ResetStrategy{Kind: ResetToOffset, Offset: 4}, p, 4},
		{"to-offset before start", ResetStrategy{Kind: ResetToOffset, Offset: 0}, p, 2},
		{"to-offset after end", ResetStrategy{Kind: ResetToOffset, Offset: 100}, p, 8},
		{"shift back", ResetStrategy{Kind: ResetShiftBy, Offset: -2}, p, 3},
		{"shift back past start", ResetStrategy{Kind: ResetShiftBy, Offset: -10}, p, 2},
		{"shift forward past end", ResetStrategy{Kind: ResetShiftBy, Offset: 10}, p, 8},
		{"time found", ResetStrategy{Kind: ResetToTime}, noCommit, 6},
		{"time after every record", ResetStrategy{Kind: ResetToTime}, p, 8},
		{"current", ResetStrategy{Kind: ResetToCurrent}, p, 5},
		{"current without commit", ResetStrategy{Kind: ResetToCurrent}, noCommit, 8},
	} {
		got, err := PlanResetOffset(c.s, c.p, "t", 0)
		if err != nil || got != c.want {
			t.Errorf("%s: got %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	_, err := PlanResetOffset(ResetStrategy{Kind: ResetShiftBy, Offset: 1}, noCommit, "t", 3)
	if err == nil || !strings.Contains(err.Error(), "partition t-3 since there is no current committed offset") {
		t.Errorf("shift without a commit: err %v", err)
	}
}

func TestParseISODuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"PT1H", time.Hour},
		{"pt30m", 30 * time.Minute},
		{"P1D", 24 * time.Hour},
		{"P1DT2H3M4S", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"PT0.5S", 500 * time.Millisecond},
		{"-PT6H", -6 * time.Hour},
		{"PT-6H", -6 * time.Hour},
		{"PT1H-30M", 30 * time.Minute},
	} {
		got, err := ParseISODuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "P", "PT", "1H", "PT1", "PT1M1H", "PT1H1H", "P1H", "PT1.5H", "P1W", "PTH"} {
		if _, err := ParseISODuration(in); err == nil {
			t.Errorf("ParseISODuration(%q) succeeded, want an error", in)
		}
	}
}

func TestParseDatetime(t *testing.T) {
	want := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for in, w := range map[string]time.Time{
		"2026-01-02T15:04:05.000Z":      want,
		"2026-01-02T15:04:05Z":          want,
		"2026-01-02T17:04:05.000+02:00": want,
		"2026-01-02T10:04:05.000-0500":  want,
		"2026-01-02T16:04:05+01":        want,
		"2026-01-02T15:04:05.250Z":      want.Add(250 * time.Millisecond),
		"2026-01-02T15:04:05.000":       time.Date(2026, 1, 2, 15, 4, 5, 0, time.Local),
	} {
		got, err := ParseDatetime(in)
		if err != nil || !got.Equal(w) {
			t.Errorf("ParseDatetime(%q) = %v, %v; want %v", in, got, err, w)
		}
	}
	for _, in := range []string{"2026-01-02", "2026-01-02 15:04:05", "15:04:05", "2026-13-02T15:04:05Z"} {
		if _, err := ParseDatetime(in); err == nil {
			t.Errorf("ParseDatetime(%q) succeeded, want an error", in)
		}
	}
}
