package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The store's writer over a run. A server on SQLite writes through one writer, a group
// commit that many calls share (coffer_store_writer_* in /metrics); whether that writer is
// what bounds a write-heavy run shows in how much of the run it was held. The bench reads
// the counters from the target's /metrics before and after each measured run.

// writerCounters are the coffer_store_writer_* samples of /metrics.
type writerCounters struct {
	updates, commits     float64
	busy, committing     float64 // seconds
	turnWait, commitWait float64 // seconds, summed over the write transactions
}

// writerRun is what the writer did over one measured run.
type writerRun struct {
	conns, run int
	elapsed    time.Duration
	writerCounters
}

// readWriterCounters reads the writer's counters from the server at url; !ok when it
// reports none (a store without a single writer, or a server that is not coffer).
func readWriterCounters(ctx context.Context, client *http.Client, url string) (c writerCounters, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return c, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return c, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return c, false
	}
	return parseWriterCounters(string(body))
}

// parseWriterCounters returns the four counters of the /metrics text m, !ok unless all
// four are there.
func parseWriterCounters(m string) (c writerCounters, ok bool) {
	fields := map[string]*float64{
		"coffer_store_writer_updates_total":             &c.updates,
		"coffer_store_writer_commits_total":             &c.commits,
		"coffer_store_writer_busy_seconds_total":        &c.busy,
		"coffer_store_writer_commit_seconds_total":      &c.committing,
		"coffer_store_writer_turn_wait_seconds_total":   &c.turnWait,
		"coffer_store_writer_commit_wait_seconds_total": &c.commitWait,
	}
	seen := 0
	for line := range strings.SplitSeq(m, "\n") {
		name, value, found := strings.Cut(line, " ")
		if p := fields[name]; found && p != nil {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				return c, false
			}
			*p = v
			seen++
		}
	}
	return c, seen == len(fields)
}

// sub returns c - o, counter by counter.
func (c writerCounters) sub(o writerCounters) writerCounters {
	return writerCounters{c.updates - o.updates, c.commits - o.commits, c.busy - o.busy, c.committing - o.committing,
		c.turnWait - o.turnWait, c.commitWait - o.commitWait}
}

// writerNote returns the line that says what the writer did over runs.
func writerNote(runs []writerRun) string {
	var sb strings.Builder
	sb.WriteString("writer: the store's single writer (the calls' writes, and the background's: access marks, audit intents), over each run's measured time: held for")
	for i, r := range runs {
		if i > 0 {
			sb.WriteByte(';')
		}
		fmt.Fprintf(&sb, " %s %.0f %%", runLabel(r.conns, r.run), 100*r.busy/r.elapsed.Seconds())
		if r.commits > 0 {
			fmt.Fprintf(&sb, ", %.1f write transactions a commit, %.3f ms a commit (its fsync included)", r.updates/r.commits, 1000*r.committing/r.commits)
		} else {
			sb.WriteString(", no commit")
		}
		if r.updates > 0 {
			fmt.Fprintf(&sb, ", a transaction waited %.3f ms for its turn and %.3f ms for its commit", 1000*r.turnWait/r.updates, 1000*r.commitWait/r.updates)
		}
	}
	return sb.String()
}
