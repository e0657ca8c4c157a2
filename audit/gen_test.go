package audit

import (
	"bytes"
	"os"
	"os/exec"
	"testing"
)

// TestGeneratedUpToDate runs the generator into memory and compares its
// output with the committed sensitive_gen.go.
func TestGeneratedUpToDate(t *testing.T) {
	if skipWithoutModels(t) {
		return
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no go tool: %v", err)
		}
		t.Skipf("no go tool to run the generator (%v); skipping", err)
	}
	cmd := exec.Command(goTool, "run", "gen_sensitive.go", "-models", modelsDir, "-o", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run gen_sensitive.go: %v\n%s", err, stderr.Bytes())
	}
	want, err := os.ReadFile("sensitive_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("sensitive_gen.go is stale; run go generate ./audit")
	}
}
