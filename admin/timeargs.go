package admin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrTimeSyntax is returned (wrapped) for a datetime or duration that does not parse.
var ErrTimeSyntax = errors.New("admin: malformed time")

// ParseDatetime parses kafka-consumer-groups.sh's --to-datetime: yyyy-MM-ddTHH:mm:ss.SSS with an
// optional zone (Z, +hh:mm, +hhmm, +hh); without a zone the time is local.
func ParseDatetime(s string) (time.Time, error) {
	// NB: Go accepts fractional seconds after the seconds field even when the layout has none, so
	// ".SSS" is optional here as it is in Kafka.
	for _, layout := range []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: %q is not of the form yyyy-MM-ddTHH:mm:ss.SSS[Z|+hh:mm]", ErrTimeSyntax, s)
}

// ParseISODuration parses an ISO-8601 duration of days, hours, minutes and seconds (PnDTnHnMn.nS,
// the form Java's Duration.parse takes, which kafka-consumer-groups.sh --by-duration uses): P1D,
// PT1H, PT30M, PT0.5S, P1DT2H3M4S. A leading '-' negates it; each number may carry a sign.
func ParseISODuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("%w: %q is not an ISO-8601 duration such as PT1H, P1D or P1DT2H30M", ErrTimeSyntax, s)
	}
	rest := strings.ToUpper(s)
	negative := false
	switch {
	case strings.HasPrefix(rest, "-"):
		negative, rest = true, rest[1:]
	case strings.HasPrefix(rest, "+"):
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, "P") {
		return bad()
	}
	rest = rest[1:]
	datePart, timePart, hasTime := strings.Cut(rest, "T")
	if hasTime && timePart == "" || datePart == "" && !hasTime {
		return bad()
	}
	var total float64 // in seconds; NB: float so that fractional seconds parse
	components := 0
	consume := func(part string, units map[byte]float64, order string) bool {
		next := 0 // index in order of the next allowed unit
		for part != "" {
			i := strings.IndexAny(part, order)
			if i <= 0 {
				return false
			}
			unit := part[i]
			pos := strings.IndexByte(order, unit)
			if pos < next {
				return false // units out of order or repeated
			}
			next = pos + 1
			n, err := strconv.ParseFloat(part[:i], 64)
			if err != nil || unit != 'S' && strings.Contains(part[:i], ".") {
				return false
			}
			total += n * units[unit]
			components++
			part = part[i+1:]
		}
		return true
	}
	if !consume(datePart, map[byte]float64{'D': 86400}, "D") ||
		!consume(timePart, map[byte]float64{'H': 3600, 'M': 60, 'S': 1}, "HMS") || components == 0 {
		return bad()
	}
	if negative {
		total = -total
	}
	return time.Duration(total * float64(time.Second)), nil
}
