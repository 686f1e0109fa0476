package sigma

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/event"
)

// TestPrefilterFoldsCase: the literal prefilter scans values without
// lower-casing ASCII ones, and lower-cases values with non-ASCII bytes
// (the Kelvin sign lower-cases to k) so that no match is lost.
func TestPrefilterFoldsCase(t *testing.T) {
	rules, err := ParseRules("r.yml", []byte(`title: field
id: field
logsource: {product: test}
detection:
    sel:
        CommandLine|contains: 'mimikatz'
    condition: sel
---
title: keyword
id: keyword
logsource: {product: test}
detection:
    kw:
        - 'sekurlsa::logonpasswords'
    condition: kw
`))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Compile(&Collection{Rules: rules}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := func(field, value string, want ...string) {
		t.Helper()
		ev := &event.Event{LogSource: event.LogSource{Product: "test"}}
		ev.Add(field, event.String(value))
		var got []string
		eng.Match(ev, func(m Match) { got = append(got, m.Rule.ID) })
		if len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) {
			t.Errorf("%s=%q matched %v, want %v", field, value, got, want)
		}
	}
	f("CommandLine", `C:\Tools\MIMIKATZ.exe`, "field")
	f("CommandLine", `C:\Tools\MiMiKaTz.exe`, "field")
	f("CommandLine", "mimi\u212Aatz.exe", "field")
	f("CommandLine", `Ä C:\MIMIKATZ.exe`, "field")
	f("CommandLine", `mimikat.exe`)
	f("Other", `MIMIKATZ`)
	f("Payload", `privilege::debug SEKURLSA::LogonPasswords exit`, "keyword")
	f("Payload", `ÜBER SEKURLSA::LOGONPASSWORDS`, "keyword")
	f("Payload", `sekurlsa::logon`)
}

// TestACMatcherAgainstContains compares the automaton with strings.Contains
// over random patterns and texts from a small alphabet (many overlaps).
func TestACMatcherAgainstContains(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abc:\\"[r.IntN(5)]
		}
		return string(b)
	}
	for round := 0; round < 200; round++ {
		var pats []string
		minLen := 1 + round%2
		for i := 0; i < 1+r.IntN(12); i++ {
			pats = append(pats, word(minLen+r.IntN(4)))
		}
		m := newACMatcher(pats)

		for k := 0; k < 20; k++ {
			text := word(r.IntN(60))
			found := map[int32]bool{}
			for _, h := range m.scan(text, nil) {
				found[h] = true
			}
			upper, ok := m.scanFold(strings.ToUpper(text), nil)
			if !ok {
				t.Fatal("ASCII text reported as non-ASCII")
			}
			foundUpper := map[int32]bool{}
			for _, h := range upper {
				foundUpper[h] = true
			}
			for i, p := range pats {
				want := strings.Contains(text, p)
				if found[int32(i)] != want || foundUpper[int32(i)] != want {
					t.Fatalf("patterns %q text %q: pattern %q found %v (folded %v), want %v", pats, text, p, found[int32(i)], foundUpper[int32(i)], want)
				}
			}
		}
	}
}
