package rotation

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustParse(t *testing.T, r Rules) *Schedule {
	t.Helper()
	s, err := ParseRules(r)
	if err != nil {
		t.Fatalf("ParseRules(%+v): %v", r, err)
	}
	return s
}

func expr(e string) Rules { return Rules{ScheduleExpression: e} }

func exprFor(e, d string) Rules { return Rules{ScheduleExpression: e, Duration: d} }

func TestParseRulesValid(t *testing.T) {
	for _, tc := range []struct {
		rules  Rules
		window time.Duration
	}{
		{Rules{AutomaticallyAfterDays: 1}, 24 * time.Hour},
		{Rules{AutomaticallyAfterDays: 1000}, 24 * time.Hour},
		{Rules{AutomaticallyAfterDays: 30, Duration: "2h"}, 2 * time.Hour},

		// rate(): hours 4–23, days 1–999; the unit's number is not checked.
		{expr("rate(4 hours)"), time.Hour},
		{expr("rate(23 hours)"), time.Hour},
		{expr("rate(4 hour)"), time.Hour},
		{expr("rate(1 day)"), 24 * time.Hour},
		{expr("rate(1 days)"), 24 * time.Hour},
		{expr("rate(10 days)"), 24 * time.Hour},
		{expr("rate(999 days)"), 24 * time.Hour},
		{exprFor("rate(12 hours)", "12h"), 12 * time.Hour},
		{exprFor("rate(4 hours)", "4h"), 4 * time.Hour},
		{exprFor("rate(10 days)", "1h"), time.Hour},
		{exprFor("rate(10 days)", "24h"), 24 * time.Hour},
		{exprFor("rate(10 days)", "01h"), time.Hour},

		// The user guide's examples.
		{expr("cron(0 /8 * * ? *)"), time.Hour},
		{expr("cron(0 8/8 * * ? *)"), time.Hour},
		{expr("cron(0 2/10 * * ? *)"), time.Hour},
		{expr("cron(0 4/12 * * ? *)"), time.Hour},
		{expr("cron(0 10 * * ? *)"), 14 * time.Hour},
		{expr("cron(0 18 ? * SAT *)"), 6 * time.Hour},
		{expr("cron(0 8 1 * ? *)"), 16 * time.Hour},
		{expr("cron(0 1 ? 1/3 SUN#1 *)"), 23 * time.Hour},
		{expr("cron(0 17 L * ? *)"), 7 * time.Hour},
		{expr("cron(0 8 ? * MON-FRI *)"), 16 * time.Hour},
		{expr("cron(0 16 1,15 * ? *)"), 8 * time.Hour},
		{expr("cron(0 0 ? * SUN#1 *)"), 24 * time.Hour},
		{expr("cron(0 0 ? 1/11 2#1 *)"), 24 * time.Hour},
		{expr("cron(0 8 1/7 * ? *)"), 16 * time.Hour},
		{expr("cron(0 10 ? JAN,APR,JUL,OCT TUE#3 *)"), 14 * time.Hour},

		// Other forms of the fields.
		{expr("cron(00 10 * * ? *)"), 14 * time.Hour},
		{expr("cron(0 10 ? jan-mar mon *)"), 14 * time.Hour},
		{expr("cron(0 10 1-15/2 * ? *)"), 14 * time.Hour},
		{expr("cron(0 10 ? * */2 *)"), 14 * time.Hour},
		{expr("cron(0 10 ? * L *)"), 14 * time.Hour},
		{expr("cron(0 10 ? * 6L *)"), 14 * time.Hour},
		{expr("cron(0 10 ? * FRIL *)"), 14 * time.Hour},
		{expr("cron(0 10 15W * ? *)"), 14 * time.Hour},
		{expr("cron(0 10 LW * ? *)"), 14 * time.Hour},
		{expr("cron(0 10 1,L * ? *)"), 14 * time.Hour},
		{expr("cron(0 10 29 2 ? *)"), 14 * time.Hour},
		{expr("cron(0 10 31 * ? *)"), 14 * time.Hour},
		{expr("cron(0 1,5 * * ? *)"), time.Hour},
		{expr("cron(0  10 * * ? *)"), 14 * time.Hour},
		{expr("cron(0 10 * * ? *" + strings.Repeat(" ", 238) + ")"), 14 * time.Hour}, // 256 characters

		// Duration against the window's neighbours and midnight.
		{exprFor("cron(0 22 * * ? *)", "2h"), 2 * time.Hour},
		{exprFor("cron(0 0 * * ? *)", "24h"), 24 * time.Hour},
		{exprFor("cron(0 8/8 * * ? *)", "8h"), 8 * time.Hour},
		{exprFor("cron(0 2,20 * * ? *)", "6h"), 6 * time.Hour},
	} {
		s, err := ParseRules(tc.rules)
		if err != nil {
			t.Errorf("ParseRules(%+v): %v", tc.rules, err)
			continue
		}
		if got := s.Window(); got != tc.window {
			t.Errorf("ParseRules(%+v).Window() = %v, want %v", tc.rules, got, tc.window)
		}
	}
}

func TestParseRulesInvalid(t *testing.T) {
	for _, tc := range []struct {
		rules Rules
		want  string
	}{
		{Rules{AutomaticallyAfterDays: 7, ScheduleExpression: "rate(7 days)"}, msgBoth},
		{Rules{AutomaticallyAfterDays: 7, ScheduleExpression: "nonsense"}, msgBoth},
		{Rules{}, msgNone},
		{Rules{Duration: "2h"}, msgNone},
		{Rules{AutomaticallyAfterDays: -1}, msgDays},
		{Rules{AutomaticallyAfterDays: 1001}, msgDays},
		{Rules{AutomaticallyAfterDays: 30, Duration: "25h"}, msgDuration},

		{expr("rate(3 hours)"), msgRateHours},
		{expr("rate(0 hours)"), msgRateHours},
		{expr("rate(24 hours)"), msgRateHours},
		{expr("rate(0 days)"), msgRateDays},
		{expr("rate(1000 days)"), msgRateDays},
		{expr("rate(99999999999999999999 days)"), msgRateDays},
		{expr("rate(4 minutes)"), msgExpr},
		{expr("rate(1 week)"), msgExpr},
		{expr("rate(4hours)"), msgExpr},
		{expr("rate( 4 hours)"), msgExpr},
		{expr("rate(-4 hours)"), msgExpr},
		{expr("rate(4 hours"), msgExpr},
		{expr("rate(4 Hours)"), msgExpr},
		{expr("RATE(4 hours)"), msgExpr},
		{expr("rate(4 hours) "), msgExpr},

		{exprFor("rate(4 hours)", "5h"), msgDurationRate},
		{exprFor("rate(12 hours)", "13h"), msgDurationRate},
		{exprFor("rate(10 days)", "0h"), msgDuration},
		{exprFor("rate(10 days)", "25h"), msgDuration},
		{exprFor("rate(10 days)", "3m"), msgDuration},
		{exprFor("rate(10 days)", "h"), msgDuration},
		{exprFor("rate(10 days)", "100h"), msgDuration},
		{exprFor("rate(10 days)", "2H"), msgDuration},
		{exprFor("cron(0 22 * * ? *)", "3h"), msgWithinDay},
		{exprFor("cron(0 1 * * ? *)", "24h"), msgWithinDay},
		{exprFor("cron(0 8/8 * * ? *)", "9h"), msgDurationRate},

		{expr("cron(30 10 * * ? *)"), msgExpr},                                // minutes must be 0
		{expr("cron(0/5 10 * * ? *)"), msgExpr},                               // minutes must be 0
		{expr("cron(0 10 * * ? 2030)"), msgExpr},                              // the year must be *
		{expr("cron(0 10 * * ? 2024-2030)"), msgExpr},                         // the year must be *
		{expr("cron(0 10 * * * *)"), msgExpr},                                 // neither day field is ?
		{expr("cron(0 10 ? * ? *)"), msgExpr},                                 // both day fields are ?
		{expr("cron(0 10 * * ?)"), msgExpr},                                   // five fields
		{expr("cron(0 10 * * ? * *)"), msgExpr},                               // seven fields
		{expr("cron(0 /2 * * ? *)"), msgExpr},                                 // two hours apart
		{expr("cron(0 1,4 * * ? *)"), msgExpr},                                // three hours apart
		{expr("cron(0 * * * ? *)"), msgExpr},                                  // every hour
		{expr("cron(0 24 * * ? *)"), msgExpr},                                 // no hour 24
		{expr("cron(0 10 0 * ? *)"), msgExpr},                                 // no day 0
		{expr("cron(0 10 32 * ? *)"), msgExpr},                                // no day 32
		{expr("cron(0 10 30 2 ? *)"), msgExpr},                                // never
		{expr("cron(0 10 31 4,6,9,11 ? *)"), msgExpr},                         // never
		{expr("cron(0 10 ? 13 MON *)"), msgExpr},                              // no month 13
		{expr("cron(0 10 ? * 8 *)"), msgExpr},                                 // no weekday 8
		{expr("cron(0 10 ? * 0 *)"), msgExpr},                                 // weekdays are 1–7
		{expr("cron(0 10 ? * MON#6 *)"), msgExpr},                             // no sixth Monday
		{expr("cron(0 10 ? * MON#0 *)"), msgExpr},                             // no zeroth Monday
		{expr("cron(0 10 ? * MOND *)"), msgExpr},                              // not a name
		{expr("cron(0 10 5-1 * ? *)"), msgExpr},                               // backwards
		{expr("cron(0 10 1/0 * ? *)"), msgExpr},                               // step 0
		{expr("cron(0 10 L-2 * ? *)"), msgExpr},                               // no offset from L
		{expr("cron(0 10 W * ? *)"), msgExpr},                                 // W needs a day
		{expr("cron(0 10 32W * ? *)"), msgExpr},                               // no day 32
		{expr("cron(0 10 ? * 9L *)"), msgExpr},                                // no weekday 9
		{expr("cron(0 10 1,,2 * ? *)"), msgExpr},                              // empty item
		{expr("cron(0 10 * * ? *"), msgExpr},                                  // unclosed
		{expr("cron(0\t10 * * ? *)"), msgExpr},                                // outside the model's pattern
		{expr("cron(0 10 * * ? *) "), msgExpr},                                // trailing text
		{expr("cron()"), msgExpr},                                             // empty
		{expr("at(2024-01-01T00:00:00)"), msgExpr},                            // not a rotation schedule
		{expr("cron(0 10 * * ? *" + strings.Repeat(" ", 250) + ")"), msgExpr}, // 268 characters
	} {
		_, err := ParseRules(tc.rules)
		var re *RuleError
		if !errors.As(err, &re) {
			t.Errorf("ParseRules(%+v) = %v, want RuleError %q", tc.rules, err, tc.want)
			continue
		}
		if re.Message != tc.want || err.Error() != tc.want {
			t.Errorf("ParseRules(%+v) = %q, want %q", tc.rules, re.Message, tc.want)
		}
	}
}

// TestNext checks where the next window opens and NextRotationDate, the last second of that
// window. The first cases are DescribeSecret outputs observed on AWS.
func TestNext(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rules     Rules
		last, now string // now "" is last
		next, nrd string
	}{
		{"observed: 30 days over leap February", Rules{AutomaticallyAfterDays: 30},
			"2024-02-22T07:16:15Z", "", "2024-03-23T00:00:00Z", "2024-03-23T23:59:59Z"},
		{"observed: 30 days over February", Rules{AutomaticallyAfterDays: 30},
			"2026-02-03T17:42:24Z", "", "2026-03-05T00:00:00Z", "2026-03-05T23:59:59Z"},
		{"observed: cron every Monday", expr("cron(0 0 ? * 2 *)"),
			"2023-10-16T07:18:02Z", "", "2023-10-23T00:00:00Z", "2023-10-23T23:59:59Z"},

		{"a day, across a month end", expr("rate(1 day)"),
			"2024-01-31T12:00:00Z", "", "2024-02-01T00:00:00Z", "2024-02-01T23:59:59Z"},
		{"a day, across a year end", Rules{AutomaticallyAfterDays: 1},
			"2023-12-31T23:59:59Z", "", "2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z"},
		{"a day, into a leap day", expr("rate(1 day)"),
			"2024-02-28T10:00:00Z", "", "2024-02-29T00:00:00Z", "2024-02-29T23:59:59Z"},
		{"a day, no leap day", expr("rate(1 day)"),
			"2023-02-28T10:00:00Z", "", "2023-03-01T00:00:00Z", "2023-03-01T23:59:59Z"},
		{"365 days in a leap year", expr("rate(365 days)"),
			"2024-01-01T08:00:00Z", "", "2024-12-31T00:00:00Z", "2024-12-31T23:59:59Z"},
		{"365 days in a common year", expr("rate(365 days)"),
			"2023-01-01T08:00:00Z", "", "2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z"},
		{"1000 days", Rules{AutomaticallyAfterDays: 1000},
			"2024-01-01T08:00:00Z", "", "2026-09-27T00:00:00Z", "2026-09-27T23:59:59Z"},
		{"days with a Duration", exprFor("rate(10 days)", "3h"),
			"2024-03-30T05:00:00Z", "", "2024-04-09T00:00:00Z", "2024-04-09T02:59:59Z"},
		{"days given in another zone", Rules{AutomaticallyAfterDays: 1},
			"2024-03-01T23:30:00-05:00", "", "2024-03-03T00:00:00Z", "2024-03-03T23:59:59Z"},

		{"hours, across midnight", expr("rate(4 hours)"),
			"2024-03-01T22:30:00Z", "", "2024-03-02T02:00:00Z", "2024-03-02T02:59:59Z"},
		{"hours with a Duration", exprFor("rate(12 hours)", "12h"),
			"2024-03-01T13:10:00Z", "", "2024-03-02T01:00:00Z", "2024-03-02T12:59:59Z"},
		{"hours, window cut at midnight", exprFor("rate(6 hours)", "6h"),
			"2024-03-01T14:10:00Z", "", "2024-03-01T20:00:00Z", "2024-03-01T23:59:59Z"},

		{"cron in hours resets each day", expr("cron(0 2/10 * * ? *)"),
			"2024-03-01T22:30:00Z", "", "2024-03-02T02:00:00Z", "2024-03-02T02:59:59Z"},
		{"cron in hours, window cut at midnight", exprFor("cron(0 2,20 * * ? *)", "6h"),
			"2024-03-01T15:00:00Z", "", "2024-03-01T20:00:00Z", "2024-03-01T23:59:59Z"},
		{"cron window reaching midnight", exprFor("cron(0 22 * * ? *)", "2h"),
			"2024-03-01T22:30:00Z", "", "2024-03-02T22:00:00Z", "2024-03-02T23:59:59Z"},
		{"cron on the hour itself is after it", expr("cron(0 10 * * ? *)"),
			"2024-03-01T10:00:00Z", "", "2024-03-02T10:00:00Z", "2024-03-02T23:59:59Z"},
		{"cron just before the hour", expr("cron(0 10 * * ? *)"),
			"2024-03-01T09:59:59Z", "", "2024-03-01T10:00:00Z", "2024-03-01T23:59:59Z"},
		{"cron across a year end", expr("cron(0 0 1 1 ? *)"),
			"2024-06-01T00:00:00Z", "", "2025-01-01T00:00:00Z", "2025-01-01T23:59:59Z"},
		{"cron 31st skips April", expr("cron(0 8 31 * ? *)"),
			"2024-04-01T00:00:00Z", "", "2024-05-31T08:00:00Z", "2024-05-31T23:59:59Z"},
		{"cron weekdays over a weekend", expr("cron(0 8 ? * MON-FRI *)"),
			"2024-03-01T09:00:00Z", "", "2024-03-04T08:00:00Z", "2024-03-04T23:59:59Z"},
		{"cron months by name", expr("cron(0 8 1 JAN,APR,JUL,OCT ? *)"),
			"2024-04-01T09:00:00Z", "", "2024-07-01T08:00:00Z", "2024-07-01T23:59:59Z"},

		{"L in leap February", expr("cron(0 17 L * ? *)"),
			"2024-02-10T00:00:00Z", "", "2024-02-29T17:00:00Z", "2024-02-29T23:59:59Z"},
		{"L in February", expr("cron(0 17 L * ? *)"),
			"2023-02-10T00:00:00Z", "", "2023-02-28T17:00:00Z", "2023-02-28T23:59:59Z"},
		{"L after the last day", expr("cron(0 17 L * ? *)"),
			"2024-02-29T17:30:00Z", "", "2024-03-31T17:00:00Z", "2024-03-31T23:59:59Z"},
		{"L in a 31-day month", expr("cron(0 17 L * ? *)"),
			"2024-04-30T18:00:00Z", "", "2024-05-31T17:00:00Z", "2024-05-31T23:59:59Z"},
		{"leap day waits four years", expr("cron(0 8 29 2 ? *)"),
			"2024-02-29T09:00:00Z", "", "2028-02-29T08:00:00Z", "2028-02-29T23:59:59Z"},
		{"leap day skips 2100", expr("cron(0 8 29 2 ? *)"),
			"2099-03-01T00:00:00Z", "", "2104-02-29T08:00:00Z", "2104-02-29T23:59:59Z"},

		{"W: a Saturday goes to Friday", expr("cron(0 8 15W * ? *)"),
			"2024-06-01T00:00:00Z", "", "2024-06-14T08:00:00Z", "2024-06-14T23:59:59Z"},
		{"W: a Sunday goes to Monday", expr("cron(0 8 15W * ? *)"),
			"2024-09-01T00:00:00Z", "", "2024-09-16T08:00:00Z", "2024-09-16T23:59:59Z"},
		{"W: Saturday the 1st goes to Monday", expr("cron(0 8 1W * ? *)"),
			"2024-05-31T00:00:00Z", "", "2024-06-03T08:00:00Z", "2024-06-03T23:59:59Z"},
		{"W: Sunday the 31st goes to Friday", expr("cron(0 8 31W * ? *)"),
			"2024-03-01T00:00:00Z", "", "2024-03-29T08:00:00Z", "2024-03-29T23:59:59Z"},
		{"W: a weekday stays", expr("cron(0 8 15W * ? *)"),
			"2024-03-01T00:00:00Z", "", "2024-03-15T08:00:00Z", "2024-03-15T23:59:59Z"},
		{"LW: Saturday the 31st", expr("cron(0 8 LW * ? *)"),
			"2024-08-01T00:00:00Z", "", "2024-08-30T08:00:00Z", "2024-08-30T23:59:59Z"},

		{"#: first Sunday every three months", expr("cron(0 1 ? 1/3 SUN#1 *)"),
			"2024-01-15T00:00:00Z", "", "2024-04-07T01:00:00Z", "2024-04-07T23:59:59Z"},
		{"#: third Tuesday", expr("cron(0 10 ? * TUE#3 *)"),
			"2024-03-01T00:00:00Z", "", "2024-03-19T10:00:00Z", "2024-03-19T23:59:59Z"},
		{"#: fifth Monday", expr("cron(0 10 ? * 2#5 *)"),
			"2024-01-01T00:00:00Z", "", "2024-01-29T10:00:00Z", "2024-01-29T23:59:59Z"},
		{"#: fifth Monday skips months without one", expr("cron(0 10 ? * 2#5 *)"),
			"2024-01-30T00:00:00Z", "", "2024-04-29T10:00:00Z", "2024-04-29T23:59:59Z"},
		{"dL: last Friday", expr("cron(0 10 ? * 6L *)"),
			"2024-02-01T00:00:00Z", "", "2024-02-23T10:00:00Z", "2024-02-23T23:59:59Z"},
		{"L alone in day-of-week is Saturday", expr("cron(0 10 ? * L *)"),
			"2024-02-01T00:00:00Z", "", "2024-02-03T10:00:00Z", "2024-02-03T23:59:59Z"},

		// A window missed entirely: the next chance is the window open at now, or the next.
		{"missed day: the window of today", Rules{AutomaticallyAfterDays: 1},
			"2024-03-01T10:00:00Z", "2024-03-03T05:00:00Z", "2024-03-03T00:00:00Z", "2024-03-03T23:59:59Z"},
		{"missed day with a Duration: tomorrow", exprFor("rate(10 days)", "2h"),
			"2024-03-01T01:00:00Z", "2024-03-11T03:00:00Z", "2024-03-12T00:00:00Z", "2024-03-12T01:59:59Z"},
		{"missed hours: this hour", expr("rate(4 hours)"),
			"2024-03-01T00:30:00Z", "2024-03-01T09:30:00Z", "2024-03-01T09:00:00Z", "2024-03-01T09:59:59Z"},
		{"missed cron: the next match", exprFor("cron(0 10 ? * SAT *)", "2h"),
			"2024-03-02T10:30:00Z", "2024-03-09T13:00:00Z", "2024-03-16T10:00:00Z", "2024-03-16T11:59:59Z"},
		{"missed cron: the open one", exprFor("cron(0 10 ? * SAT *)", "2h"),
			"2024-02-24T10:30:00Z", "2024-03-09T11:00:00Z", "2024-03-09T10:00:00Z", "2024-03-09T11:59:59Z"},
		{"not missed while open", Rules{AutomaticallyAfterDays: 30},
			"2024-02-22T07:16:15Z", "2024-03-23T23:59:58Z", "2024-03-23T00:00:00Z", "2024-03-23T23:59:59Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.rules)
			last := at(t, tc.last)
			now := last
			if tc.now != "" {
				now = at(t, tc.now)
			}
			if got, want := s.Next(last, now), at(t, tc.next); !got.Equal(want) {
				t.Errorf("Next = %v, want %v", got, want)
			}
			if got, want := s.NextRotationDate(last, now), at(t, tc.nrd); !got.Equal(want) {
				t.Errorf("NextRotationDate = %v, want %v", got, want)
			}
			if got := s.Next(last, now).Location(); got != time.UTC {
				t.Errorf("Next is in %v, want UTC", got)
			}
		})
	}
}

func TestNextWithoutLastRotation(t *testing.T) {
	now := at(t, "2024-03-01T12:00:00Z")
	for _, tc := range []struct {
		rules Rules
		next  string
	}{
		{Rules{AutomaticallyAfterDays: 5}, "2024-03-06T00:00:00Z"},
		{expr("rate(4 hours)"), "2024-03-01T16:00:00Z"},
		{expr("cron(0 10 * * ? *)"), "2024-03-02T10:00:00Z"},
	} {
		s := mustParse(t, tc.rules)
		if got, want := s.Next(time.Time{}, now), at(t, tc.next); !got.Equal(want) {
			t.Errorf("%+v: Next(zero, %v) = %v, want %v", tc.rules, now, got, want)
		}
	}
}

func TestDue(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rules     Rules
		last, now string
		want      bool
	}{
		{"before the window", Rules{AutomaticallyAfterDays: 30}, "2024-02-22T07:16:15Z", "2024-03-22T23:59:59Z", false},
		{"window opens", Rules{AutomaticallyAfterDays: 30}, "2024-02-22T07:16:15Z", "2024-03-23T00:00:00Z", true},
		{"window's last second", Rules{AutomaticallyAfterDays: 30}, "2024-02-22T07:16:15Z", "2024-03-23T23:59:59Z", true},
		{"rotated in the window", Rules{AutomaticallyAfterDays: 30}, "2024-03-23T05:00:00Z", "2024-03-23T06:00:00Z", false},
		{"window overdue: rotate today", Rules{AutomaticallyAfterDays: 30}, "2024-02-22T07:16:15Z", "2024-03-25T08:00:00Z", true},

		{"cron before its window", exprFor("cron(0 22 * * ? *)", "2h"), "2024-03-01T22:30:00Z", "2024-03-02T21:59:59Z", false},
		{"cron window opens", exprFor("cron(0 22 * * ? *)", "2h"), "2024-03-01T22:30:00Z", "2024-03-02T22:00:00Z", true},
		{"cron window's last second", exprFor("cron(0 22 * * ? *)", "2h"), "2024-03-01T22:30:00Z", "2024-03-02T23:59:59Z", true},
		{"cron window closed at midnight", exprFor("cron(0 22 * * ? *)", "2h"), "2024-03-01T22:30:00Z", "2024-03-03T00:00:00Z", false},
		{"cron window reopens next day", exprFor("cron(0 22 * * ? *)", "2h"), "2024-03-01T22:30:00Z", "2024-03-03T22:00:00Z", true},

		{"days with Duration, inside", exprFor("rate(10 days)", "2h"), "2024-03-01T01:00:00Z", "2024-03-11T01:59:59Z", true},
		{"days with Duration, after", exprFor("rate(10 days)", "2h"), "2024-03-01T01:00:00Z", "2024-03-11T02:00:00Z", false},
		{"days with Duration, next midnight", exprFor("rate(10 days)", "2h"), "2024-03-01T01:00:00Z", "2024-03-12T00:00:00Z", true},

		{"hours inside", expr("rate(4 hours)"), "2024-03-01T00:30:00Z", "2024-03-01T04:59:00Z", true},
		{"hours before", expr("rate(4 hours)"), "2024-03-01T00:30:00Z", "2024-03-01T03:59:59Z", false},

		{"clock behind the last rotation", Rules{AutomaticallyAfterDays: 1}, "2024-03-02T10:00:00Z", "2024-03-01T10:00:00Z", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.rules)
			if got := s.Due(at(t, tc.last), at(t, tc.now)); got != tc.want {
				t.Errorf("Due(%s, %s) = %v, want %v", tc.last, tc.now, got, tc.want)
			}
		})
	}
}

// FuzzParseRules checks that no rules make ParseRules, Next, NextRotationDate or Due panic,
// and that a parsed schedule's next window opens on the hour after the last rotation and is
// still open at now or later.
func FuzzParseRules(f *testing.F) {
	for _, e := range []string{
		"rate(4 hours)", "rate(1 day)", "rate(999 days)", "cron(0 /8 * * ? *)", "cron(0 2/10 * * ? *)",
		"cron(0 1 ? 1/3 SUN#1 *)", "cron(0 17 L * ? *)", "cron(0 8 ? * MON-FRI *)", "cron(0 8 15W * ? *)",
		"cron(0 10 ? * 6L *)", "cron(0 8 29 2 ? *)", "cron(0 10 ? * 2#5 *)", "cron(0 22 LW * ? *)", "",
	} {
		f.Add(int64(0), "", e, int64(1708586175), int64(1708590000))
		f.Add(int64(0), "2h", e, int64(1708586175), int64(1790000000))
	}
	f.Add(int64(30), "", "", int64(1708586175), int64(0))
	f.Add(int64(1000), "24h", "", int64(4102444800), int64(1708586175))
	f.Fuzz(func(t *testing.T, days int64, duration, e string, lastSec, nowSec int64) {
		s, err := ParseRules(Rules{AutomaticallyAfterDays: days, Duration: duration, ScheduleExpression: e})
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) || re.Message == "" {
				t.Fatalf("ParseRules error %T %v, want a *RuleError with a message", err, err)
			}
			return
		}
		if w := s.Window(); w < time.Hour || w > 24*time.Hour || w%time.Hour != 0 {
			t.Fatalf("Window() = %v", w)
		}
		// Times from 1970 to about 2170, which keeps the search for a cron() match in range.
		const span = 200 * 365 * 24 * 3600
		last := time.Unix(abs(lastSec)%span, 0).UTC()
		now := time.Unix(abs(nowSec)%span, 0).UTC()
		if lastSec == 0 {
			last = time.Time{}
		}
		next := s.Next(last, now)
		if next.IsZero() || (!last.IsZero() && !next.After(last)) || (last.IsZero() && !next.After(now)) {
			t.Fatalf("Next(%v, %v) = %v, want a time after the last rotation", last, now, next)
		}
		if next.Minute() != 0 || next.Second() != 0 || next.Nanosecond() != 0 {
			t.Fatalf("Next(%v, %v) = %v, not on the hour", last, now, next)
		}
		nrd := s.NextRotationDate(last, now)
		if nrd.Before(next) || nrd.After(next.Add(s.Window())) || !nrd.Add(time.Second).After(now) {
			t.Fatalf("NextRotationDate(%v, %v) = %v, outside the window from %v (%v) or already over",
				last, now, nrd, next, s.Window())
		}
		if y, m, d := next.Date(); nrd.After(time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("window from %v to %v runs into the next UTC day", next, nrd)
		}
		if got, want := s.Due(last, now), !now.Before(next); got != want {
			t.Fatalf("Due(%v, %v) = %v, want %v (window from %v)", last, now, got, want, next)
		}
	})
}

func abs(v int64) int64 {
	if v < 0 {
		if v == -v { // the smallest int64
			return 0
		}
		return -v
	}
	return v
}

// TestCronAfterBruteForce compares the cron() search, which skips months and days, with a walk
// over every hour.
func TestCronAfterBruteForce(t *testing.T) {
	for _, e := range []string{
		"cron(0 /8 * * ? *)", "cron(0 2/10 ? * MON-FRI *)", "cron(0 1 ? 1/3 SUN#1 *)", "cron(0 17 L * ? *)",
		"cron(0 8 15W,1W * ? *)", "cron(0 8 LW * ? *)", "cron(0 10 ? * 2#5 *)", "cron(0 10 ? * 6L,2 *)",
		"cron(0 0 31 * ? *)", "cron(0 23 1/9 FEB-APR ? *)", "cron(0 4,20 ? * L *)",
	} {
		s := mustParse(t, expr(e))
		c := s.cron
		for start := at(t, "2023-11-05T13:27:00Z"); start.Year() < 2026; start = start.Add(61*time.Hour + 7*time.Minute) {
			want := time.Time{}
			for h := start.Truncate(time.Hour).Add(time.Hour); h.Before(start.AddDate(1, 1, 0)); h = h.Add(time.Hour) {
				y, m, d := h.Date()
				first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
				if c.months&(1<<m) != 0 && c.hours&(1<<h.Hour()) != 0 && c.matchDay(d, daysIn(y, m), first) {
					want = h
					break
				}
			}
			if want.IsZero() {
				t.Fatalf("%s: no match within 13 months of %v", e, start)
			}
			if got := c.after(start); !got.Equal(want) {
				t.Fatalf("%s: after(%v) = %v, want %v", e, start, got, want)
			}
		}
	}
}
