package coffer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-project/coffer/iam"
	"github.com/coffer-project/coffer/server"
)

// TestCompatibilityDoc checks that docs/compatibility.md gives a status for every operation
// and request member of the Secrets Manager model in ../shared/aws-models.
func TestCompatibilityDoc(t *testing.T) {
	model := filepath.Join("..", "shared", "aws-models", "secretsmanager.service-2.json")
	b, err := os.ReadFile(model)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the AWS models are required under CI=true: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	var m struct {
		Operations map[string]struct {
			Input struct{ Shape string }
		}
		Shapes map[string]struct {
			Members map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("docs", "compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	parts := regexp.MustCompile(`(?m)^## `).Split(string(doc), -1)
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "\n")
		sections[strings.TrimSpace(name)] = body
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| (Supported|Differs|Not yet) \\|")
	for op, o := range m.Operations {
		body, ok := sections[op]
		if !ok {
			t.Errorf("docs/compatibility.md has no section for %s", op)
			continue
		}
		listed := map[string]bool{}
		for _, r := range row.FindAllStringSubmatch(body, -1) {
			listed[r[1]] = true
		}
		for member := range m.Shapes[o.Input.Shape].Members {
			if !listed[member] {
				t.Errorf("%s.%s has no status row in docs/compatibility.md", op, member)
			}
		}
	}
	if len(m.Operations) < 20 {
		t.Fatalf("the model lists only %d operations", len(m.Operations))
	}
}

// TestKMSCompatibilityDoc checks that docs/kms-compatibility.md gives a status for every
// operation of the KMS model, and that the operations it calls Supported are the ones the
// server routes.
func TestKMSCompatibilityDoc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "shared", "aws-models", "kms.service-2.json"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the AWS models are required under CI=true: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	var m struct{ Operations map[string]json.RawMessage }
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("docs", "kms-compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| (Supported|Differs|Not yet) \\|")
	status := map[string]string{}
	for _, r := range row.FindAllStringSubmatch(string(doc), -1) {
		status[r[1]] = r[2]
	}
	for op := range m.Operations {
		if status[op] == "" {
			t.Errorf("docs/kms-compatibility.md has no row for %s", op)
		}
	}
	if len(m.Operations) < 40 {
		t.Fatalf("the model lists only %d operations", len(m.Operations))
	}
	routed := map[string]bool{}
	for _, op := range server.KMSOperations() {
		routed[op] = true
		if status[op] != "Supported" {
			t.Errorf("the server routes %s, which docs/kms-compatibility.md calls %q", op, status[op])
		}
	}
	for op, st := range status {
		if st == "Supported" && !routed[op] {
			t.Errorf("docs/kms-compatibility.md calls %s Supported, but the server does not route it", op)
		}
	}
}

// TestIAMCompatibilityDoc checks docs/iam-compatibility.md against the IAM and STS models and
// the IAM actions the server routes.
func TestIAMCompatibilityDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("docs", "iam-compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	stsPart, iamPart, ok := strings.Cut(string(doc), "\n## IAM\n")
	if !ok {
		t.Fatal("docs/iam-compatibility.md has no IAM section")
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| (Supported|Differs|Not yet) \\|")
	for _, part := range []struct{ model, text string }{{"sts", stsPart}, {"iam", iamPart}} {
		b, err := os.ReadFile(filepath.Join("..", "shared", "aws-models", part.model+".service-2.json"))
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the AWS models are required under CI=true: %v", err)
			}
			t.Skipf("skipping: %v", err)
		}
		var m struct{ Operations map[string]json.RawMessage }
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		status := map[string]string{}
		for _, r := range row.FindAllStringSubmatch(part.text, -1) {
			status[r[1]] = r[2]
		}
		for op := range m.Operations {
			if status[op] == "" {
				t.Errorf("docs/iam-compatibility.md has no %s row for %s", part.model, op)
			}
		}
		if part.model != "iam" {
			continue
		}
		routed := map[string]bool{}
		for _, op := range append(iam.Operations(), server.IAMOperations()...) {
			routed[op] = true
			if status[op] != "Supported" {
				t.Errorf("the server routes iam:%s, which the page calls %q", op, status[op])
			}
		}
		for op, st := range status {
			if st == "Supported" && !routed[op] {
				t.Errorf("the page calls iam:%s Supported, but the server does not route it", op)
			}
		}
	}
}
