package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden renders every profile as a table and as JSON and compares the
// output with testdata/golden. Regenerate with:
// go test ./pkg/doctor -run Golden -update
func TestGolden(t *testing.T) {
	for _, p := range profiles {
		findings := Check(context.Background(), Options{Root: profileRoot(p), Interface: "eth0"})
		for _, r := range []struct {
			ext   string
			write func(*bytes.Buffer, []Finding) error
		}{
			{"table", func(b *bytes.Buffer, f []Finding) error { return WriteTable(b, f) }},
			{"json", func(b *bytes.Buffer, f []Finding) error { return WriteJSON(b, f) }},
		} {
			t.Run(p+"."+r.ext, func(t *testing.T) {
				var got bytes.Buffer
				if err := r.write(&got, findings); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", "golden", p+"."+r.ext), got.Bytes())
			})
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if the change is intended:\n%s", path, diff)
	}
}

// The JSON report decodes back into the findings it was made from.
func TestJSONRoundTrip(t *testing.T) {
	findings := Check(context.Background(), Options{Root: profileRoot(profileInterfaceDown), Interface: "eth0"})
	var b bytes.Buffer
	if err := WriteJSON(&b, findings); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(b.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	want := Report{Worst: Error, Counts: Count(findings), Findings: findings}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("decoded report (-want +got):\n%s", diff)
	}
}

func TestWriteJSONEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b.Bytes(), []byte(`"findings": []`)) {
		t.Errorf("WriteJSON(nil) = %s, want an empty findings list", b.Bytes())
	}
}
