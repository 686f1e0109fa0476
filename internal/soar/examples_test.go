package soar_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/internal/soar"
)

// TestExamplePlaybooks: the shipped examples are valid.
func TestExamplePlaybooks(t *testing.T) {
	files, err := filepath.Glob("testdata/playbooks/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := soar.Parse(src); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
