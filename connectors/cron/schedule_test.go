package cron

import (
	"fmt"
	"testing"
	"time"
)

func TestParseScheduleAcceptsOptionalSecondsDescriptorsAndTimeZones(t *testing.T) {
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for spec, want := range map[string]time.Time{
		"@every 1s":                       base.Add(time.Second),
		"*/15 * * * * *":                  base.Add(15 * time.Second),
		"CRON_TZ=UTC 30 10 * * *":         base.Add(30 * time.Minute),
		"CRON_TZ=UTC 0 12 * * *":          base.Add(2 * time.Hour),
		"CRON_TZ=Asia/Tokyo 0 0 20 * * *": base.Add(time.Hour), // 20:00 in Tokyo is 11:00 UTC
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", spec, err)
			continue
		}
		if got := s.Next(base).UTC(); !got.Equal(want) {
			t.Errorf("%q: next after %v = %v, want %v", spec, base, got, want)
		}
	}
	for _, spec := range []string{"", "every second", "61 * * * *", "CRON_TZ=UTC", "TZ=Mars/Base * * * * *", "* * * 30 2 *", "1 2 3 4 5 6 7"} {
		if _, err := ParseSchedule(spec); err == nil {
			t.Errorf("ParseSchedule(%q) accepted", spec)
		}
	}
}

func TestSchedulerCatchupAndNoOverlap(t *testing.T) {
	every, _ := ParseSchedule("@every 10s")
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		lastFire time.Time
		catchup  string
		want     time.Time
	}{
		{"first start waits for the first fire", time.Time{}, CatchupOnce, t0.Add(10 * time.Second)},
		{"no missed fire", t0.Add(-5 * time.Second), CatchupOnce, t0.Add(10 * time.Second)},
		{"missed fires, catchup=once runs now", t0.Add(-time.Hour), CatchupOnce, t0},
		{"missed fires, catchup=skip waits", t0.Add(-time.Hour), CatchupSkip, t0.Add(10 * time.Second)},
	} {
		sc := newScheduler(every, tc.lastFire, t0, tc.catchup)
		if !sc.next.Equal(tc.want) {
			t.Errorf("%s: next = %v, want %v", tc.name, sc.next, tc.want)
		}
	}
	sc := newScheduler(every, time.Time{}, t0, CatchupSkip)
	fire := sc.next
	if sc.due(fire.Add(-time.Millisecond)) || !sc.due(fire) {
		t.Fatalf("due around %v is wrong", fire)
	}
	// A run that lasts 25s skips the fires that passed meanwhile.
	sc.ran(fire, fire.Add(25*time.Second))
	if want := fire.Add(35 * time.Second); !sc.next.Equal(want) {
		t.Errorf("after a long run next = %v, want %v", sc.next, want)
	}
	// A short run keeps the cadence.
	fire = sc.next
	sc.ran(fire, fire.Add(time.Second))
	if want := fire.Add(10 * time.Second); !sc.next.Equal(want) {
		t.Errorf("after a short run next = %v, want %v", sc.next, want)
	}
}

func TestBuildQueryFiltersByModeFromTheLastPosition(t *testing.T) {
	inc := int64(41)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, tc := range []struct {
		cfg      config
		inc      *int64
		ts       *time.Time
		want     string
		wantArgs string
	}{
		{config{table: "orders", mode: ModeBulk}, nil, nil, `SELECT * FROM "orders"`, "[]"},
		{config{table: "shop.Orders", mode: ModeIncrementing, incCol: "id"}, nil, nil, `SELECT * FROM "shop"."Orders" ORDER BY "id"`, "[]"},
		{config{table: "orders", mode: ModeIncrementing, incCol: "id"}, &inc, nil, `SELECT * FROM "orders" WHERE "id" > $1 ORDER BY "id"`, "[41]"},
		{config{query: "SELECT a, b FROM t;", mode: ModeTimestamp, tsCol: "b"}, nil, &ts,
			`SELECT * FROM (SELECT a, b FROM t) AS cron_query WHERE "b" < now() AND "b" > $1 ORDER BY "b"`, "[2026-01-02 03:04:05.000006 +0000 UTC]"},
		{config{table: "t", mode: ModeTimestampIncrementing, tsCol: "ts", incCol: "id"}, &inc, &ts,
			`SELECT * FROM "t" WHERE "ts" < now() AND ("ts" > $1 OR ("ts" = $1 AND "id" > $2)) ORDER BY "ts", "id"`, "[2026-01-02 03:04:05.000006 +0000 UTC 41]"},
	} {
		got, args := buildQuery(&tc.cfg, tc.inc, tc.ts)
		if got != tc.want || fmt.Sprint(args) != tc.wantArgs {
			t.Errorf("buildQuery(%+v) =\n %s %v\nwant\n %s %s", tc.cfg, got, args, tc.want, tc.wantArgs)
		}
	}
}

// FuzzParseSchedule checks that no schedule text panics (robfig/cron panics on "CRON_TZ=X" alone)
// and that an accepted schedule has a next fire.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"@every 1s", "*/5 * * * * *", "CRON_TZ=UTC 0 3 * * *", "CRON_TZ=UTC", "TZ=", "@every -1s", "0 0 30 2 *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err == nil && s.Next(time.Now()).IsZero() {
			t.Errorf("%q accepted but never fires", spec)
		}
	})
}
