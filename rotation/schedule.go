package rotation

// Rotation schedules, as Secrets Manager reads RotateSecret's RotationRules. Everything here
// is pure: no I/O, and the time is passed in. All computation is in UTC, as AWS's is.
//
// Sources (AWS is the reference; each rule below names the one it follows):
//   - [guide] User guide, "Rotation schedules" / "Schedule expressions in Secrets Manager
//     rotation": https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_schedule.html
//   - [api] API reference, RotationRulesType (and the botocore model: AutomaticallyAfterDays
//     1–1000, Duration pattern [0-9]+h of 2–3 characters, ScheduleExpression pattern
//     [0-9A-Za-z()#?*\-/, ]+ of 1–256 characters):
//     https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotationRulesType.html
//   - [observed] DescribeSecret outputs that AWS users published (found by text search):
//     AutomaticallyAfterDays 30 with LastRotatedDate 2024-02-22T07:16Z gave NextRotationDate
//     2024-03-23T23:59:59Z; with LastChangedDate 2026-02-03T17:42Z, 2026-03-05T23:59:59Z;
//     cron(0 0 ? * 2 *) with LastRotatedDate 2023-10-16T07:18Z (a Monday) gave
//     2023-10-23T23:59:59Z.
//
// What could not be verified against AWS itself is marked "unverified" where it is decided.

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rules mirror RotateSecret's RotationRulesType. A zero AutomaticallyAfterDays and an empty
// string mean that the member is absent.
type Rules struct {
	AutomaticallyAfterDays int64
	Duration               string
	ScheduleExpression     string
}

// RuleError is a rotation schedule that Secrets Manager refuses. Message is the text AWS
// answers with; the caller reports it as an InvalidParameterException.
type RuleError struct {
	Message string
}

// Error implements error.
func (e *RuleError) Error() string { return e.Message }

// The messages of RuleError.
//
// msgBoth is AWS's (quoted from real RotateSecret failures in
// https://github.com/hashicorp/terraform-provider-aws/issues/33329 and in that provider's
// changelog for #31915). msgDays is the text of the AWS emulators moto and LocalStack, not
// seen from AWS itself. msgExpr, msgRateHours, msgRateDays, msgDuration, msgDurationRate and
// msgWithinDay are quoted as RotateSecret's answers by a third-party pre-deployment policy
// (a Rego rule set for AWS::SecretsManager::RotationSchedule); their spelling ("should be
// least 4", "at most 24 hour") suggests they were copied from AWS, but no second source
// confirmed them. msgNone is coffer's own: no source says what AWS answers to RotationRules
// that set neither a frequency nor an expression.
const (
	msgBoth         = "You cannot specify both rotation frequency and schedule expression together."
	msgNone         = "You must specify either rotation frequency or schedule expression."
	msgDays         = "RotationRules.AutomaticallyAfterDays must be within 1-1000."
	msgExpr         = "Invalid schedule expression."
	msgRateHours    = "Rate in hour should be least 4 and less than 24."
	msgRateDays     = "Rate in day should be greater than 0 and less than 1000."
	msgDuration     = "Duration must be at least 1 hour, at most 24 hour."
	msgDurationRate = "Duration cannot be greater than Rate in hour."
	msgWithinDay    = "Starting hour and duration must be within a day."
)

// minGapHours is the shortest time between two rotation windows: "You can rotate a secret as
// often as every four hours" [guide].
const minGapHours = 4

type kind uint8

const (
	// byDays: AutomaticallyAfterDays, or rate(N days). The window opens at midnight UTC N days
	// after the day of the last rotation [guide, api, observed].
	byDays kind = iota
	// byHours: rate(N hours). The window opens on the hour, N hours after the start of the
	// hour of the last rotation (unverified; see Next).
	byHours
	// byCron: cron(…). Windows open at the hours the expression matches.
	byCron
)

// Schedule is a parsed, valid rotation schedule: when rotation windows open and how long
// they stay open.
type Schedule struct {
	kind   kind
	every  int // byDays: days between rotations; byHours: hours between rotations
	cron   *cronExpr
	window time.Duration
}

// ParseRules validates r as RotateSecret does and returns its schedule. A refusal is a
// *RuleError carrying AWS's message.
//
// The rules [guide, api]: exactly one of AutomaticallyAfterDays (1–1000) and
// ScheduleExpression; rate(N hour|hours|day|days) with 4–23 hours or 1–999 days; cron() with
// six fields, 0 minutes, * for the year, and ? in exactly one of day-of-month and
// day-of-week; windows at least four hours apart; Duration from 1h to 24h, by default one
// hour for a schedule in hours and the rest of the UTC day for a schedule in days; a window
// must not reach into the next window nor, for a schedule in days, past midnight UTC.
//
// Decided without a source (unverified): Duration is accepted with AutomaticallyAfterDays and
// read as it is with rate(N days); the unit of rate() need not agree in number with the value
// (rate(1 days), rate(2 day)); the four-hour minimum and the Duration bound of a cron() in
// hours compare the starts within one day (a cron() "resets each day" [guide]), and a window of
// a schedule in hours that would run past midnight UTC is cut there rather than refused.
func ParseRules(r Rules) (*Schedule, error) {
	switch {
	case r.AutomaticallyAfterDays != 0 && r.ScheduleExpression != "":
		return nil, &RuleError{msgBoth}
	case r.AutomaticallyAfterDays == 0 && r.ScheduleExpression == "":
		return nil, &RuleError{msgNone}
	}
	var s *Schedule
	if r.AutomaticallyAfterDays != 0 {
		if r.AutomaticallyAfterDays < 1 || r.AutomaticallyAfterDays > 1000 {
			return nil, &RuleError{msgDays}
		}
		s = &Schedule{kind: byDays, every: int(r.AutomaticallyAfterDays)}
	} else {
		var err error
		if s, err = parseExpression(r.ScheduleExpression); err != nil {
			return nil, err
		}
	}
	// A schedule in hours opens several windows a day, gap hours apart at the least; a
	// schedule in days opens one, at hour start.
	inHours, start, gap := false, 0, 24
	switch s.kind {
	case byHours:
		inHours, gap = true, s.every
	case byCron:
		hours := s.cron.hourList()
		inHours, start, gap = len(hours) > 1, hours[0], minGap(hours)
	}
	if r.Duration == "" {
		if inHours {
			s.window = time.Hour
		} else {
			s.window = time.Duration(24-start) * time.Hour
		}
		return s, nil
	}
	h, ok := parseDuration(r.Duration)
	if !ok {
		return nil, &RuleError{msgDuration}
	}
	if inHours {
		if h > gap {
			return nil, &RuleError{msgDurationRate}
		}
	} else if start+h > 24 {
		return nil, &RuleError{msgWithinDay}
	}
	s.window = time.Duration(h) * time.Hour
	return s, nil
}

// parseDuration reads Duration as the model constrains it (2–3 characters, [0-9]+h) and as
// the guide bounds it (1–24 hours).
func parseDuration(d string) (int, bool) {
	if len(d) < 2 || len(d) > 3 || d[len(d)-1] != 'h' {
		return 0, false
	}
	h, ok := number(d[:len(d)-1])
	return h, ok && h >= 1 && h <= 24
}

// parseExpression reads a rate() or cron() expression.
func parseExpression(e string) (*Schedule, error) {
	// The model's constraints: 1–256 characters from [0-9A-Za-z()#?*\-/, ].
	if len(e) > 256 || strings.IndexFunc(e, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || strings.ContainsRune("()#?*-/, ", r))
	}) >= 0 {
		return nil, &RuleError{msgExpr}
	}
	if inner, ok := strings.CutPrefix(e, "rate("); ok {
		return parseRate(inner)
	}
	if inner, ok := strings.CutPrefix(e, "cron("); ok {
		inner, ok = strings.CutSuffix(inner, ")")
		if !ok {
			return nil, &RuleError{msgExpr}
		}
		c, err := parseCron(inner)
		if err != nil {
			return nil, err
		}
		return &Schedule{kind: byCron, cron: c}, nil
	}
	return nil, &RuleError{msgExpr}
}

// parseRate reads "N unit)", the rest of a rate() expression.
func parseRate(inner string) (*Schedule, error) {
	inner, ok := strings.CutSuffix(inner, ")")
	value, unit, ok2 := strings.Cut(inner, " ")
	if !ok || !ok2 || value == "" || !digits(value) {
		return nil, &RuleError{msgExpr}
	}
	n, err := strconv.Atoi(value)
	if err != nil {
		n = 1 << 30 // too many digits: out of every range below
	}
	switch unit {
	case "hour", "hours":
		if n < minGapHours || n > 23 {
			return nil, &RuleError{msgRateHours}
		}
		return &Schedule{kind: byHours, every: n}, nil
	case "day", "days":
		// The guide: "The maximum rotation period is 999 days."
		if n < 1 || n > 999 {
			return nil, &RuleError{msgRateDays}
		}
		return &Schedule{kind: byDays, every: n}, nil
	}
	return nil, &RuleError{msgExpr}
}

// minGap is the shortest distance between two consecutive hours of a sorted list.
func minGap(hours []int) int {
	gap := 24
	for i := 1; i < len(hours); i++ {
		gap = min(gap, hours[i]-hours[i-1])
	}
	return gap
}

// Window is the length of every rotation window: Duration, or the default (one hour for a
// schedule in hours, the rest of the UTC day for a schedule in days). A window of a schedule
// in hours that would run past midnight UTC is cut there.
func (s *Schedule) Window() time.Duration { return s.window }

// Next returns the start of the window in which the rotation after the one at last is due.
// last is the time of the last rotation (AWS counts a PutSecretValue or UpdateSecret of the
// value as one); a zero last counts from now.
//
// With AutomaticallyAfterDays or rate(N days) the window opens at midnight UTC, N days after
// the UTC day of last: "Secrets Manager schedules the date by adding the rotation interval
// (number of days) to the actual date of the last rotation" (RotateSecret's former API
// reference, as paws 0.1.0 mirrors it), and observed NextRotationDates agree. With rate(N hours) and cron() it is the
// first window that opens after last. Whether rate(N hours) is counted from the last
// rotation, as here (the window opens N hours after the start of the hour of last), or
// follows a grid from midnight, is not documented (unverified): the guide says only cron()
// "resets each day", and RotateSecret's documentation groups rate() with
// AutomaticallyAfterDays as the schedules whose "previously scheduled rotation might still
// occur", that is, schedules counted from a stored previous rotation.
//
// A window that closed before now without a rotation is missed: Next then returns the window
// open at now, or the one after it (for the counted kinds, a window opens at every UTC
// midnight for a schedule in days, at every hour for rate(N hours)). Secrets Manager rotates
// only within a window [guide]; what AWS does after a missed window is not documented
// (unverified), beyond NextRotationDate possibly lying in the past after a failed rotation,
// which this schedule does not reproduce.
func (s *Schedule) Next(last, now time.Time) time.Time {
	now = now.UTC()
	base := last.UTC()
	if last.IsZero() {
		base = now
	}
	var w time.Time
	switch s.kind {
	case byDays:
		w = midnight(base).AddDate(0, 0, s.every)
	case byHours:
		w = base.Truncate(time.Hour).Add(time.Duration(s.every) * time.Hour)
	default:
		w = s.cron.after(base)
	}
	if w.IsZero() || s.end(w).After(now) {
		return w
	}
	return s.openAt(now)
}

// NextRotationDate is what DescribeSecret and ListSecrets show: the last second of the window
// Next returns. AWS documents it as the date on or before which the next rotation happens,
// "the latest date that rotation will occur"; observed values are the end of the window,
// e.g. 23:59:59 UTC on the day 30 days after a rotation with AutomaticallyAfterDays 30, or on
// the next Monday for cron(0 0 ? * 2 *) [observed].
func (s *Schedule) NextRotationDate(last, now time.Time) time.Time {
	w := s.Next(last, now)
	if w.IsZero() {
		return w
	}
	return s.end(w).Add(-time.Second)
}

// Due reports whether a rotation should run at now: now is inside the window Next returns.
// A rotation that fails leaves last unchanged, so it stays due, and is retried, until its
// window closes.
func (s *Schedule) Due(last, now time.Time) bool {
	w := s.Next(last, now)
	now = now.UTC()
	return !w.IsZero() && !now.Before(w) && now.Before(s.end(w))
}

// end is when the window opening at start closes.
func (s *Schedule) end(start time.Time) time.Time {
	e := start.Add(s.window)
	if next := midnight(start).AddDate(0, 0, 1); e.After(next) {
		return next
	}
	return e
}

// openAt is the first window that is still open at now or opens after it.
func (s *Schedule) openAt(now time.Time) time.Time {
	w := s.after(now.Add(-s.window))
	for !w.IsZero() && !s.end(w).After(now) {
		w = s.after(w)
	}
	return w
}

// after is the first time strictly after t at which a window may open once one was missed:
// for a cron() its next match, for a schedule in days the next midnight, for rate(N hours)
// the next whole hour.
func (s *Schedule) after(t time.Time) time.Time {
	switch s.kind {
	case byDays:
		return midnight(t).AddDate(0, 0, 1)
	case byHours:
		return t.Truncate(time.Hour).Add(time.Hour)
	}
	return s.cron.after(t)
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// cronExpr is a parsed cron(): which hours, months and days match. Bit i of a set stands for
// the value i (hours 0–23, months 1–12, days of the month 1–31, weekdays 0–6 from Sunday).
type cronExpr struct {
	hours  uint32
	months uint16
	byDOM  bool // day-of-week is ?, so the days come from day-of-month

	dom            uint32 // listed days of the month
	domLast        bool   // L: the last day of the month
	domLastWeekday bool   // LW: the last weekday (Monday–Friday) of the month
	domNearest     uint32 // dW: the weekday nearest to day d, within the month

	dow     uint8    // listed weekdays
	dowLast uint8    // dL: the last such weekday of the month
	dowNth  [7]uint8 // d#k: bit k of dowNth[d], the k-th such weekday of the month
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// parseCron reads the six fields of a cron() [guide]: Minutes (must be 0), Hours (0–23),
// Day-of-month (1–31, with , - * ? / L W), Month (1–12 or JAN–DEC, with , - * /), Day-of-week
// (1–7 or SUN–SAT, with , - * ? / L #) and Year (must be *).
//
// W (dW, LW) is not in the guide's table for Secrets Manager; it is read as EventBridge and
// Quartz read it (unverified that Secrets Manager accepts it). The guide lists "DAYL" (the
// last such weekday) under Day-of-month; it is read in Day-of-week, where EventBridge has it.
// Names are matched without regard to case, a range must not run backwards, and an
// expression that no date can ever match (cron(0 0 30 2 ? *)) is refused (unverified).
func parseCron(inner string) (*cronExpr, error) {
	bad := &RuleError{msgExpr}
	f := strings.Fields(inner)
	if len(f) != 6 || !digits(f[0]) || strings.Trim(f[0], "0") != "" || f[5] != "*" {
		return nil, bad
	}
	if (f[2] == "?") == (f[4] == "?") {
		return nil, bad
	}
	var c cronExpr
	hours, ok := parseList(f[1], 0, 23, nil)
	if !ok {
		return nil, bad
	}
	months, ok := parseList(f[3], 1, 12, monthNames)
	if !ok {
		return nil, bad
	}
	c.hours, c.months = uint32(hours), uint16(months)
	c.byDOM = f[4] == "?"
	if c.byDOM {
		ok = c.parseDOM(f[2])
	} else {
		ok = c.parseDOW(f[4])
	}
	if !ok || !c.canMatch() || minGap(c.hourList()) < minGapHours {
		return nil, bad
	}
	return &c, nil
}

// hourList is the matching hours in order.
func (c *cronExpr) hourList() []int {
	var list []int
	for h := range 24 {
		if c.hours&(1<<h) != 0 {
			list = append(list, h)
		}
	}
	return list
}

// parseDOM reads the day-of-month field.
func (c *cronExpr) parseDOM(field string) bool {
	for item := range strings.SplitSeq(field, ",") {
		switch {
		case item == "L":
			c.domLast = true
		case item == "LW":
			c.domLastWeekday = true
		case len(item) > 1 && item[len(item)-1] == 'W':
			d, ok := number(item[:len(item)-1])
			if !ok || d < 1 || d > 31 {
				return false
			}
			c.domNearest |= 1 << d
		default:
			set, ok := parseList(item, 1, 31, nil)
			if !ok {
				return false
			}
			c.dom |= uint32(set)
		}
	}
	return true
}

// parseDOW reads the day-of-week field; AWS numbers the days 1 (SUN) to 7 (SAT).
func (c *cronExpr) parseDOW(field string) bool {
	for item := range strings.SplitSeq(field, ",") {
		switch {
		case item == "L": // the last day of the week, Saturday
			c.dow |= 1 << 6
		case len(item) > 1 && item[len(item)-1] == 'L':
			d, ok := value(item[:len(item)-1], 1, 7, dayNames)
			if !ok {
				return false
			}
			c.dowLast |= 1 << (d - 1)
		case strings.Contains(item, "#"):
			day, nth, _ := strings.Cut(item, "#")
			d, ok := value(day, 1, 7, dayNames)
			k, ok2 := number(nth)
			if !ok || !ok2 || k < 1 || k > 5 {
				return false
			}
			c.dowNth[d-1] |= 1 << k
		default:
			set, ok := parseList(item, 1, 7, dayNames)
			if !ok {
				return false
			}
			c.dow |= uint8(set >> 1) // 1–7 to bits 0–6
		}
	}
	return true
}

// canMatch reports whether some date matches: every month has every weekday, and a last day,
// but not every month has a 30th or 31st.
func (c *cronExpr) canMatch() bool {
	if !c.byDOM || c.domLast || c.domLastWeekday {
		return true
	}
	days := c.dom | c.domNearest
	for m := 1; m <= 12; m++ {
		if c.months&(1<<m) == 0 {
			continue
		}
		longest := daysIn(2000, time.Month(m)) // 2000 is a leap year: February has 29
		if days&(uint32(1)<<(longest+1)-1) != 0 {
			return true
		}
	}
	return false
}

// parseList reads a comma-separated list of *, v, v-w, each with an optional /step (a bare
// /step starts at lo, as in AWS's cron(0 /8 * * ? *)), and returns the set of values.
func parseList(field string, lo, hi int, names []string) (uint64, bool) {
	var set uint64
	for item := range strings.SplitSeq(field, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			var ok bool
			if step, ok = number(stepText); !ok || step < 1 {
				return 0, false
			}
		}
		from, to := lo, hi
		switch {
		case rng == "*" || (rng == "" && hasStep):
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var ok, ok2 bool
			from, ok = value(a, lo, hi, names)
			to, ok2 = value(b, lo, hi, names)
			if !ok || !ok2 || from > to {
				return 0, false
			}
		default:
			var ok bool
			if from, ok = value(rng, lo, hi, names); !ok {
				return 0, false
			}
			if !hasStep {
				to = from
			}
		}
		for v := from; v <= to; v += step {
			set |= 1 << v
		}
	}
	return set, true
}

// value reads one number in lo–hi, or a name (names[0] is lo).
func value(s string, lo, hi int, names []string) (int, bool) {
	if i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, s) }); i >= 0 {
		return lo + i, true
	}
	n, ok := number(s)
	return n, ok && n >= lo && n <= hi
}

// number reads a short unsigned decimal number.
func number(s string) (int, bool) {
	if s == "" || len(s) > 4 || !digits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func digits(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// after is the first whole hour strictly after t that the expression matches, or the zero
// time if none does within 400 years (the Gregorian calendar repeats then; canMatch keeps a
// parsed expression from getting there).
func (c *cronExpr) after(t time.Time) time.Time {
	t = t.Truncate(time.Hour).Add(time.Hour)
	y, m, d := t.Date()
	h := t.Hour()
	for limit := y + 400; y <= limit; {
		if c.months&(1<<m) != 0 {
			n := daysIn(y, m)
			first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
			for ; d <= n; d++ {
				if c.matchDay(d, n, first) {
					if hh := c.hourFrom(h); hh >= 0 {
						return time.Date(y, m, d, hh, 0, 0, 0, time.UTC)
					}
				}
				h = 0
			}
		}
		d, h = 1, 0
		if m++; m > 12 {
			m, y = 1, y+1
		}
	}
	return time.Time{}
}

// hourFrom is the first matching hour at or after h, or -1.
func (c *cronExpr) hourFrom(h int) int {
	for ; h < 24; h++ {
		if c.hours&(1<<h) != 0 {
			return h
		}
	}
	return -1
}

// matchDay reports whether day d of a month of n days, whose first day is a first, matches.
func (c *cronExpr) matchDay(d, n int, first time.Weekday) bool {
	weekday := func(day int) time.Weekday { return (first + time.Weekday(day-1)) % 7 }
	if !c.byDOM {
		wd := weekday(d)
		return c.dow&(1<<wd) != 0 ||
			(c.dowLast&(1<<wd) != 0 && d+7 > n) ||
			c.dowNth[wd]&(1<<((d-1)/7+1)) != 0
	}
	if c.dom&(1<<d) != 0 || (c.domLast && d == n) {
		return true
	}
	if c.domLastWeekday && d == nearestWeekday(n, n, weekday(n)) {
		return true
	}
	for k := 1; k <= n && c.domNearest>>k != 0; k++ {
		if c.domNearest&(1<<k) != 0 && nearestWeekday(k, n, weekday(k)) == d {
			return true
		}
	}
	return false
}

// nearestWeekday is the Monday–Friday day nearest to day d (a wd) of a month of n days,
// without leaving the month, as Quartz and EventBridge define W.
func nearestWeekday(d, n int, wd time.Weekday) int {
	switch {
	case wd == time.Saturday && d == 1:
		return 3
	case wd == time.Saturday:
		return d - 1
	case wd == time.Sunday && d == n:
		return d - 2
	case wd == time.Sunday:
		return d + 1
	}
	return d
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
