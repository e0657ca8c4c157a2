package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stats are one target's figures in a row.
type stats struct {
	rps            float64
	p50, p99, p999 time.Duration
	errors         int
	firstErr       string
	cpu, genCPU    time.Duration // CPU time per successful call: the serving process's, the load generator's
	dbCPU          time.Duration // and the database server's
}

// statsOf returns the figures of r.
func statsOf(r *benchResult) stats {
	return stats{rps: r.rps(), p50: r.P50, p99: r.P99, p999: r.P999, errors: r.Errors, firstErr: r.FirstError,
		cpu: r.perRequest(r.CPU), genCPU: r.perRequest(r.GenCPU), dbCPU: r.perRequest(r.DBCPU)}
}

// runRow is a row of a result table: one run, or the medians of a connection count's runs.
type runRow struct {
	conns             int
	run               string // the run's number, or "median"
	target            stats
	baseline          *stats
	ratio, p50x, p99x float64 // target ÷ baseline: throughput, p50 and p99 latency
}

// newRunRow returns the row of one run; baseline may be nil.
func newRunRow(conns int, target, baseline *benchResult) runRow {
	row := runRow{conns: conns, target: statsOf(target)}
	if baseline != nil {
		b := statsOf(baseline)
		row.baseline = &b
		row.ratio = row.target.rps / b.rps
		row.p50x, row.p99x = durRatio(row.target.p50, b.p50), durRatio(row.target.p99, b.p99)
	}
	return row
}

// medianRow returns the row of the medians, column by column, of rows.
func medianRow(rows []runRow) runRow {
	med := runRow{conns: rows[0].conns, run: "median"}
	pick := func(get func(runRow) float64) float64 {
		v := make([]float64, len(rows))
		for i, r := range rows {
			v[i] = get(r)
		}
		return median(v)
	}
	side := func(get func(runRow) *stats) stats {
		return stats{
			rps:    pick(func(r runRow) float64 { return get(r).rps }),
			p50:    time.Duration(pick(func(r runRow) float64 { return float64(get(r).p50) })),
			p99:    time.Duration(pick(func(r runRow) float64 { return float64(get(r).p99) })),
			p999:   time.Duration(pick(func(r runRow) float64 { return float64(get(r).p999) })),
			errors: int(pick(func(r runRow) float64 { return float64(get(r).errors) })),
			cpu:    time.Duration(pick(func(r runRow) float64 { return float64(get(r).cpu) })),
			genCPU: time.Duration(pick(func(r runRow) float64 { return float64(get(r).genCPU) })),
			dbCPU:  time.Duration(pick(func(r runRow) float64 { return float64(get(r).dbCPU) })),
		}
	}
	med.target = side(func(r runRow) *stats { return &r.target })
	if rows[0].baseline != nil {
		b := side(func(r runRow) *stats { return r.baseline })
		med.baseline = &b
		med.ratio = pick(func(r runRow) float64 { return r.ratio })
		med.p50x = pick(func(r runRow) float64 { return r.p50x })
		med.p99x = pick(func(r runRow) float64 { return r.p99x })
	}
	return med
}

// median returns the median of v (the mean of the middle two for an even count).
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// resultTable prints the rows of one series as they come: aligned plain text, or markdown.
type resultTable struct {
	w        io.Writer
	markdown bool
	titles   []string
	widths   []int
	notes    []string // the runs' errors, printed after the table
	name     string   // the target's name
	baseName string   // the baseline's name; "" without one
	db       bool     // the target's rows have a db cpu/req column
}

// newResultTable returns the table of a series loading the target called name, with base
// (which may be nil) as its baseline; db adds the target's database server's CPU time.
func newResultTable(w io.Writer, markdown bool, name string, base *baselineRunner, db bool) *resultTable {
	t := &resultTable{w: w, markdown: markdown, name: name, db: db}
	t.titles = []string{"conns", "run", name + " req/s", "p50", "p99", "p99.9", "errors", "cpu/req", "gen cpu/req"}
	if db {
		t.titles = append(t.titles, "db cpu/req")
	}
	if base != nil {
		t.baseName = base.name
		unit := " req/s"
		if base.target == nil {
			unit = " inserts/s"
		}
		// The SQLite loop's gen cpu/req is "-": it inserts in its own process, whose cpu/req
		// is all of it.
		t.titles = append(t.titles, base.name+unit, "p50", "p99", "p99.9", "errors", "cpu/req", "gen cpu/req", "ratio", "p50 ×", "p99 ×")
	}
	for i, s := range t.titles {
		w := len([]rune(s))
		switch {
		case i == 1:
			w = len("median")
		case i > 1:
			w = max(w, len("123.456ms"))
		}
		t.widths = append(t.widths, w)
	}
	return t
}

// header prints the legend and the column titles.
func (t *resultTable) header() {
	if t.baseName != "" {
		fmt.Fprintf(t.w, "ratio = %s ÷ %s throughput; p50 ×, p99 × = %s ÷ %s latency\n", t.name, t.baseName, t.name, t.baseName)
	}
	fmt.Fprintln(t.w, "cpu/req = the serving process's CPU time (user and system) over the measured duration ÷ its successful calls; gen cpu/req = the load generator's (this process)")
	if t.db {
		fmt.Fprintf(t.w, "db cpu/req = %s's database server's (PostgreSQL's server process and its children: backends, background workers, other databases' work too) over the same duration ÷ %s's successful calls\n", t.name, t.name)
	}
	fmt.Fprintln(t.w)
	t.line(t.titles)
	if t.markdown {
		sep := make([]string, len(t.titles))
		for i := range sep {
			sep[i] = "---:"
		}
		t.line(sep)
	}
}

// row prints r and notes its errors.
func (t *resultTable) row(r runRow) {
	cells := []string{strconv.Itoa(r.conns), r.run}
	cells = append(cells, statCells(r.target)...)
	if t.db {
		cells = append(cells, us(r.target.dbCPU))
	}
	if r.baseline != nil {
		cells = append(cells, statCells(*r.baseline)...)
		cells = append(cells, fmt.Sprintf("%.2f", r.ratio), fmt.Sprintf("%.2f×", r.p50x), fmt.Sprintf("%.2f×", r.p99x))
	}
	t.line(cells)
	if r.run == "median" {
		return
	}
	for _, s := range []struct {
		name string
		st   *stats
	}{{t.name, &r.target}, {t.baseName, r.baseline}} {
		if s.st != nil && s.st.errors > 0 {
			t.notes = append(t.notes, fmt.Sprintf("%d connections, run %s: %s answered %d calls with an error, the first %s",
				r.conns, r.run, s.name, s.st.errors, s.st.firstErr))
		}
	}
}

// errors prints the notes of the runs that had errors.
func (t *resultTable) errors() {
	if len(t.notes) > 0 {
		fmt.Fprintln(t.w)
	}
	for _, n := range t.notes {
		fmt.Fprintln(t.w, "errors:", n)
	}
}

// line prints one line of cells.
func (t *resultTable) line(cells []string) {
	if t.markdown {
		fmt.Fprintln(t.w, "| "+strings.Join(cells, " | ")+" |")
		return
	}
	var sb strings.Builder
	for i, c := range cells {
		if i > 0 {
			sb.WriteString("  ")
		}
		sb.WriteString(strings.Repeat(" ", max(0, t.widths[i]-len([]rune(c)))))
		sb.WriteString(c)
	}
	fmt.Fprintln(t.w, sb.String())
}

// statCells returns the cells of one target's figures.
func statCells(s stats) []string {
	return []string{thousands(s.rps), ms(s.p50), ms(s.p99), ms(s.p999), strconv.Itoa(s.errors), us(s.cpu), us(s.genCPU)}
}

// thousands formats v rounded, with commas between thousands.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// us formats a CPU time per call in microseconds, or "-" when it was not measured.
func us(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

// durRatio returns a ÷ b, or 0 when b is 0.
func durRatio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
