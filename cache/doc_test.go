package cache_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocMatchesExample checks that the code in docs/client-cache.md is Example's, which
// the compiler checks.
func TestDocMatchesExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "client-cache.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```go\n")
	if !ok {
		t.Fatal("docs/client-cache.md has no Go code block")
	}
	block, _, _ = strings.Cut(block, "```")
	lines := strings.Split(strings.TrimSuffix(block, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "\t" + l // Example's body is indented once
		}
	}
	if !strings.Contains(string(example), strings.Join(lines, "\n")+"\n") {
		t.Fatal("the code in docs/client-cache.md differs from Example in example_test.go: update one from the other")
	}
}
