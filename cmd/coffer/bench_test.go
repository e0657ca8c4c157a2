package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestBench runs a very short `coffer bench --baseline` and checks that it measured both
// targets without errors and reported the ratio. It asserts on shape, never on speed.
func TestBench(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "--baseline", "--workers", "2", "--duration", "300ms", "--warmup", "0", "--size", "512"}, &out, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, target := range []string{"coffer", "baseline"} {
		row := regexp.MustCompile(`(?m)^\s*` + target + `\s+(\d+)\s+0\s+\d+\s`).FindStringSubmatch(out.String())
		if row == nil || row[1] == "0" {
			t.Fatalf("no successful %s row:\n%s", target, out.String())
		}
	}
	if !strings.Contains(out.String(), "coffer ÷ baseline: throughput 0.") && !strings.Contains(out.String(), "coffer ÷ baseline: throughput 1.") {
		t.Fatalf("no ratio line:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"bench", "--size", "0"}, &out, &out); err == nil {
		t.Fatal("--size 0 accepted")
	}
}
