package progress

import (
	"testing"
	"time"
)

func TestProgressFigures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		done       int64
		total      int64
		elapsed    time.Duration
		wantPct    float64
		wantETA    time.Duration
		wantETAOK  bool
		wantString string
	}{
		{"quarter done", 250, 1000, 10 * time.Second, 25, 30 * time.Second, true, "250/1000 (25.0%), 25/s, ETA 30s"},
		{"nothing done yet", 0, 1000, time.Second, 0, 0, false, "0/1000 (0.0%), 0/s"},
		{"no time elapsed", 10, 1000, 0, 1, 0, false, "10/1000 (1.0%), 0/s"},
		{"unknown total", 500, 0, 5 * time.Second, 0, 0, false, "500, 100/s"},
		{"estimate exceeded", 1200, 1000, 4 * time.Second, 100, 0, true, "1200/1000 (100.0%), 300/s, ETA 0s"},
		{"sub-second ETA kept exact", 900, 1000, 9 * time.Second, 90, time.Second, true, "900/1000 (90.0%), 100/s, ETA 1s"},
		{"ETA rounded to seconds", 3, 10, 3 * time.Second, 30, 7 * time.Second, true, "3/10 (30.0%), 1/s, ETA 7s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Compute(tc.done, tc.total, tc.elapsed)
			if got := p.Percent(); got != tc.wantPct {
				t.Errorf("Percent = %v, want %v", got, tc.wantPct)
			}
			eta, ok := p.ETA()
			if eta != tc.wantETA || ok != tc.wantETAOK {
				t.Errorf("ETA = %v, %v; want %v, %v", eta, ok, tc.wantETA, tc.wantETAOK)
			}
			if got := p.String(); got != tc.wantString {
				t.Errorf("String = %q, want %q", got, tc.wantString)
			}
		})
	}
}

func TestFormatNamesTheUnit(t *testing.T) {
	for _, tc := range []struct {
		p    Progress
		want string
	}{
		{Compute(250, 1000, 10*time.Second), "250/1000 rows (25.0%), 25/s, ETA 30s"},
		{Compute(500, 0, 5*time.Second), "500 rows, 100/s"},
	} {
		if got := tc.p.Format("rows"); got != tc.want {
			t.Errorf("Format(rows) = %q, want %q", got, tc.want)
		}
	}
}

func TestTrackerReportsAtMostOncePerInterval(t *testing.T) {
	clock := time.Unix(1000, 0)
	var reports []Progress
	tr := newTracker(100, 5*time.Second, func(p Progress) { reports = append(reports, p) }, func() time.Time { return clock })
	for i, step := range []struct {
		advance time.Duration
		done    int64
		want    bool
	}{
		{time.Second, 10, false},
		{4 * time.Second, 50, true}, // 5s after the start
		{time.Second, 60, false},
		{4 * time.Second, 80, true},
	} {
		clock = clock.Add(step.advance)
		if got := tr.Update(step.done); got != step.want {
			t.Fatalf("step %d: Update reported %v, want %v", i, got, step.want)
		}
	}
	if len(reports) != 2 || reports[0].Done != 50 || reports[1].Done != 80 || reports[1].Elapsed != 10*time.Second {
		t.Fatalf("reports = %+v, want done 50 then 80 at 10s", reports)
	}
}

func TestTrackerWithoutIntervalReportsEveryUpdate(t *testing.T) {
	n := 0
	tr := NewTracker(3, 0, func(Progress) { n++ })
	for i := range 3 {
		tr.Update(int64(i + 1))
	}
	if n != 3 {
		t.Fatalf("%d reports, want 3", n)
	}
}
