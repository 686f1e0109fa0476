package event

import "testing"

func TestNumberTextChanges(t *testing.T) {
	for v, want := range map[string]bool{
		// The engine's shortest decimal differs from the text.
		"10.0": true, "2.10": true, "0.00": true, "-2.50": true, "1_000": true,
		"1.5_0": true, "-0": true, "0.069778": true, "6.838244": true,
		// Given back as written.
		"1.5": false, "0.5": false, "42": false, "-7": false, "0": false,
		"18446744073709551615": false, "0.1": false, "123.456": false,
		// Not read as numbers at all.
		"": false, "007": false, "00.5": false, "1.": false, ".5": false, "-": false,
		"1e5": false, "1.2.3": false, "+1": false, "0x10": false, "1 ": false,
		"18446744073709551616": false, "1234567890.12345678901234567": false,
	} {
		if got := NumberTextChanges(v); got != want {
			t.Errorf("NumberTextChanges(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestStoreNameKeepsExactColumnsApart(t *testing.T) {
	if got := StoreName(ExactName("x")); got != "_"+ExactName("x") {
		t.Fatalf("a record's own %s field is stored as %q", ExactName("x"), got)
	}
	if got := StoreName("exact.x"); got != "exact.x" {
		t.Fatalf("StoreName(exact.x) = %q", got)
	}
}

func TestStoreJSONKeepsExactText(t *testing.T) {
	e := &Event{Message: "m"}
	e.Add("ver", String("2.10"))
	e.Add("n", String("2.5"))
	got := string(e.AppendStoreJSON(nil, false))
	const want = `,"ver":"2.10","_exact.ver":"=2.10","n":"2.5"}`
	if len(got) < len(want) || got[len(got)-len(want):] != want {
		t.Fatalf("store JSON %s, want it to end with %s", got, want)
	}
}

// BenchmarkNumberTextChanges runs the check on a mix of values as Windows
// and Zeek events carry them: words, paths, integers, decimals, addresses.
func BenchmarkNumberTextChanges(b *testing.B) {
	values := []string{"4688", "C:\\Windows\\System32\\cmd.exe", "0x1010", "0.000431", "10.0.0.5",
		"S-1-5-18", "%%1936", "Microsoft-Windows-Security-Auditing", "3.001230", "tcp"}
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		if NumberTextChanges(values[i%len(values)]) {
			n++
		}
	}
	_ = n
}
