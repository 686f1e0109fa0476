package vuln

import (
	"slices"
	"strings"
	"testing"
)

func TestStatementShapes(t *testing.T) {
	for _, tc := range []struct {
		n, full int
		want    []int
	}{{0, 789, nil}, {1000, 789, []int{789, 128, 64, 16, 2, 1}}, {1578, 789, []int{789, 789}}, {5, 1000, []int{4, 1}}} {
		if got := batchSizes(tc.n, tc.full); !slices.Equal(got, tc.want) {
			t.Errorf("batchSizes(%d, %d) = %v, want %v", tc.n, tc.full, got, tc.want)
		}
	}
	in, args := inList([]any{"t"}, []any{"a", "b", "c"})
	if strings.Count(in, "?") != 8 || len(args) != 9 || args[1] != "a" || args[8] != "c" {
		t.Fatalf("inList: %q %v", in, args)
	}
	for _, tc := range []struct{ n, want int }{{9, 16}, {8192, 8192}, {8193, 12288}, {20000, 20480}} {
		in, args = inList(nil, make([]any, tc.n))
		if strings.Count(in, "?") != tc.want || len(args) != tc.want {
			t.Errorf("inList of %d: %d placeholders, %d args, want %d", tc.n, strings.Count(in, "?"), len(args), tc.want)
		}
	}
	// The largest chunk an import looks up stays within SQLite's limit.
	if in, _ := inList([]any{"t"}, make([]any, chunk)); strings.Count(in, "?")+1 > 32766 {
		t.Fatalf("a chunk of %d needs %d parameters", chunk, strings.Count(in, "?")+1)
	}
}
