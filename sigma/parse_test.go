package sigma

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/wacht-soc/wacht/event"
)

func TestParseErrors(t *testing.T) {
	f := func(t *testing.T, yml, wantInErr string) {
		t.Helper()
		_, err := ParseRules("x.yml", []byte(yml))
		if err == nil {
			t.Fatalf("no error for %q", yml)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *ParseError", err)
		}
		if !strings.Contains(err.Error(), wantInErr) || !strings.HasPrefix(err.Error(), "parse rule x.yml") {
			t.Errorf("error %q does not contain %q", err, wantInErr)
		}
	}
	f(t, "title: t\nid: r1\nlogsource: {product: x}\ndetection:\n  sel: {a: 1}\n", "(r1) at detection.condition: missing condition")
	f(t, "id: r2\ndetection:\n  sel: {a: 1}\n  condition: sel\n", "at title: missing title")
	f(t, "title: t\nid: r3\ndetection:\n  sel:\n    a: {b: c}\n  condition: sel\n", "at detection.sel.a: want a scalar or a list")
	f(t, "title: t\nid: r4\ncorrelation:\n  type: nope\n  rules: [a]\n  timespan: 1m\n", `unknown correlation type "nope"`)
	f(t, "title: t\nid: r5\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1x\n  condition: {gte: 1}\n", "correlation.timespan")
	f(t, "title: t\ndetection: [\n", "x.yml")
	f(t, "- a\n- b\n", "document is not a mapping")
}

func TestParseMultiDocument(t *testing.T) {
	rules, err := ParseRules("m.yml", []byte("title: a\nlogsource: {product: x}\ndetection: {s: {f: 1}, condition: s}\n---\n---\ntitle: b\nlogsource: {product: x}\ndetection: {s: [k], condition: s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].Title != "a" || rules[1].Title != "b" || rules[1].Doc != 2 {
		t.Fatalf("got %+v", rules)
	}
}

func TestCompileModifierErrors(t *testing.T) {
	for _, mods := range []string{"foo", "contains|startswith", "i", "re|contains", "gt"} {
		yml := "title: t\nid: bad\nlogsource: {product: x}\ndetection:\n  sel:\n    f|" + mods + ": 'v'\n  condition: sel\n"
		rules, err := ParseRules("x.yml", []byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		eng, err := Compile(&Collection{Rules: rules}, Options{})
		if err == nil || len(eng.Problems()) != 1 {
			t.Errorf("%s: want one problem, got %v", mods, err)
		}
	}
}

func TestUTF16Encodings(t *testing.T) {
	if got := utf16Encode("cmd", false); got != "c\x00m\x00d\x00" {
		t.Errorf("utf16le = %q", got)
	}
	if got := utf16Encode("cmd", true); got != "\x00c\x00m\x00d" {
		t.Errorf("utf16be = %q", got)
	}
	yml := "title: t\nid: u\nlogsource: {product: x}\ndetection:\n  sel:\n    f|utf16|contains: 'cmd'\n  condition: sel\n"
	rules, _ := ParseRules("x.yml", []byte(yml))
	eng, err := Compile(&Collection{Rules: rules}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range []string{"\xff\xfec\x00m\x00d\x00", "c\x00m\x00d\x00"} {
		ev := &event.Event{LogSource: event.LogSource{Product: "x"}}
		ev.Add("f", event.String(v))
		eng.Match(ev, func(Match) { n++ })
	}
	if n != 1 {
		t.Errorf("utf16 matched %d events, want 1 (with BOM only)", n)
	}
}

func TestBase64Offsets(t *testing.T) {
	got := base64Offsets("/bin/sh")
	want := []string{"L2Jpbi9za", "9iaW4vc2", "vYmluL3No"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("base64offset = %v, want %v", got, want)
	}
}

func TestLoadFSReportsAndContinues(t *testing.T) {
	fsys := fstest.MapFS{
		"r/good.yml":   {Data: []byte("title: a\nid: g\nlogsource: {product: x}\ndetection: {s: {f: 1}, condition: s}\n")},
		"r/bad.yml":    {Data: []byte("title: [\n")},
		"r/readme.txt": {Data: []byte("not a rule")},
	}
	coll, errs := LoadFS(fsys, "r")
	if len(coll.Rules) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "r/bad.yml") {
		t.Fatalf("rules %d, errors %v", len(coll.Rules), errs)
	}
}

func TestConcurrentMatch(t *testing.T) {
	yml := `title: c
id: c
logsource: {product: x}
detection: {s: {f|contains: evil}, condition: s}
---
title: count
id: count
correlation: {type: event_count, rules: [c], group-by: [h], timespan: 1h, condition: {gte: 1000}, generate: true}
`
	rules, err := ParseRules("x.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Compile(&Collection{Rules: rules}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				ev := &event.Event{LogSource: event.LogSource{Product: "x"}}
				ev.Add("f", event.String("so EVIL"))
				ev.Add("h", event.String("host"))
				eng.Match(ev, func(m Match) { mu.Lock(); counts[m.Rule.ID]++; mu.Unlock() })
			}
		}()
	}
	wg.Wait()
	if counts["c"] != 1000 || counts["count"] != 1 {
		t.Errorf("counts = %v", counts)
	}
}

func TestCorrelationEviction(t *testing.T) {
	yml := `title: c
id: c
logsource: {product: x}
detection: {s: {f: a}, condition: s}
---
title: count
id: count
correlation: {type: event_count, rules: [c], group-by: [h], timespan: 1h, condition: {gte: 2}}
`
	rules, _ := ParseRules("x.yml", []byte(yml))
	eng, err := Compile(&Collection{Rules: rules}, Options{MaxGroups: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		ev := &event.Event{LogSource: event.LogSource{Product: "x"}}
		ev.Add("f", event.String("a"))
		ev.Add("h", event.Int(int64(i)))
		eng.Match(ev, func(Match) {})
	}
	st := eng.CorrelationStats()
	if len(st) != 1 || st[0].Groups > 10 || st[0].Evictions == 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestConditionParse(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		c, err := ParseCondition(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if c.String() != want {
			t.Errorf("%q parsed as %s, want %s", in, c, want)
		}
	}
	f("a and b or c", "((a and b) or c)")
	f("not a and b", "(not a and b)")
	f("1 of sel* and not all of filter_*", "(1 of sel* and not all of filter_*)")
	f("any of them", "1 of them")
	f("((a))", "a")
	for _, bad := range []string{"", "a and", "(a", "a)", "2 of x", "a | count() > 5", "not", "1 of", "a b"} {
		if _, err := ParseCondition(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseRule(f *testing.F) {
	f.Add([]byte("title: a\nlogsource: {product: x}\ndetection: {s: {f|contains|all: [a, b]}, condition: s}\n"))
	f.Add([]byte("title: a\ncorrelation: {type: temporal, rules: [a], group-by: [x], timespan: 1m}\n"))
	f.Add([]byte("title: f\nlogsource: {product: x}\nfilter: {rules: [a], s: {f: 1}, condition: not s}\n"))
	f.Add([]byte("title: a\ndetection: {s: [k, {f: '*\\\\?x'}], condition: 1 of them}\n---\ntitle: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, _ := ParseRules("fuzz.yml", data)
		eng, _ := Compile(&Collection{Rules: rules}, Options{UnknownPlaceholder: PlaceholderWildcard})
		ev := &event.Event{LogSource: event.LogSource{Product: "x"}, Message: "m"}
		ev.Add("f", event.String("ab"))
		eng.Match(ev, func(Match) {})
	})
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"a and not b", "1 of sel* or (x and all of them)", "((((a))))", "not not a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition(s)
		if err != nil {
			return
		}
		// The printed form must parse to the same tree.
		c2, err := ParseCondition(c.String())
		if err != nil || c2.String() != c.String() {
			t.Fatalf("%q printed as %q does not round-trip: %v", s, c, err)
		}
	})
}
