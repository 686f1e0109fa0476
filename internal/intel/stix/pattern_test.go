package stix

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sharedDir(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := os.Getenv("WACHT_SHARED")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not available", p)
	}
	return p
}

type obs map[string][]string

func (o obs) Values(t, p string) []string { return o[t+":"+p] }

func TestParseAndMatch(t *testing.T) {
	f := func(pattern string, o obs, want bool) {
		t.Helper()
		p, err := Parse(pattern)
		if err != nil {
			t.Fatalf("Parse(%q): %v", pattern, err)
		}
		if got := p.Match(o); got != want {
			t.Errorf("%s on %v = %v, want %v", pattern, o, got, want)
		}
	}
	ip := obs{"ipv4-addr:value": {"198.51.100.3"}}
	f("[ipv4-addr:value = '198.51.100.3']", ip, true)
	f("[ipv4-addr:value == '198.51.100.4']", ip, false)
	f("[ipv4-addr:value != '198.51.100.4']", ip, true)
	f("[ipv4-addr:value NOT = '198.51.100.3']", ip, false)
	f("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", ip, true)
	f("[ipv4-addr:value ISSUBSET '198.51.101.0/24']", ip, false)
	f("[ipv4-addr:value IN ('1.1.1.1', '198.51.100.3')]", ip, true)
	f("[ipv4-addr:value = '1.1.1.1' OR ipv4-addr:value = '198.51.100.3']", ip, true)
	f("[ipv4-addr:value = '198.51.100.3' AND ipv4-addr:value = '1.1.1.1']", ip, false)
	file := obs{"file:name": {"payload.exe"}, "file:hashes.SHA-256": {"aa"}, "file:size": {"2048"}}
	f("[file:name LIKE '%.exe' AND file:size > 1024]", file, true)
	f("[file:name MATCHES '^pay.*\\\\.exe$']", file, true)
	f("[file:size <= 1024]", file, false)
	f("[file:hashes.'SHA-256' = 'aa']", file, true)
	f("[file:hashes.'SHA-256' = 'aa'] AND [file:name = 'payload.exe']", file, true)
	f("([file:name = 'x'] OR [file:name = 'payload.exe']) WITHIN 300 SECONDS", file, true)
	f("[file:name = 'payload.exe'] FOLLOWEDBY [file:size = 2048] REPEATS 2 TIMES", file, true)
	f("[file:name = 'payload.exe'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'", file, true)
	f("[EXISTS file:name]", file, true)
	f("[EXISTS file:mime_type]", file, false)
	f("[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'x']", obs{"network-traffic:extensions.http-request-ext.request_header.User-Agent": {"x"}}, true)
	f("[windows-registry-key:values[*].name = 'Run']", obs{"windows-registry-key:values.name": {"Run"}}, true)
	f("[file:name = 'it\\'s']", obs{"file:name": {"it's"}}, true)
	f("[artifact:payload_bin = b'aGVsbG8=']", obs{"artifact:payload_bin": {"aGVsbG8="}}, true)
	f("[file:hashes.MD5 = h'AABB']", obs{"file:hashes.MD5": {"aabb"}}, true)
	f("[x-custom:flag = true]", obs{"x-custom:flag": {"true"}}, true)
	f("[x-custom:score > -5.5]", obs{"x-custom:score": {"0"}}, true)
}

func TestSimple(t *testing.T) {
	f := func(pattern string, want ...string) {
		t.Helper()
		p, err := Parse(pattern)
		if err != nil {
			t.Fatal(err)
		}
		cmps, ok := p.Simple()
		if len(want) == 0 {
			if ok {
				t.Errorf("%s is simple: %v", pattern, cmps)
			}
			return
		}
		var got []string
		for _, c := range cmps {
			got = append(got, c.ObjectType+":"+c.Path+"="+c.Value)
		}
		if !ok || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Simple(%s) = %v %v, want %v", pattern, got, ok, want)
		}
	}
	f("[ipv4-addr:value = '1.2.3.4']", "ipv4-addr:value=1.2.3.4")
	f("[domain-name:value = 'a.example' OR domain-name:value = 'b.example']", "domain-name:value=a.example", "domain-name:value=b.example")
	f("[url:value IN ('http://a/', 'http://b/')] OR [file:hashes.'SHA-256' = 'ff']", "url:value=http://a/", "url:value=http://b/", "file:hashes.SHA-256=ff")
	f("[file:name = 'a' AND file:size = 1]")
	f("[ipv4-addr:value != '1.2.3.4']")
	f("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS")
	f("[file:size = 10]")
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"", "[", "[]", "[ipv4-addr:value]", "[ipv4-addr:value = ]", "[ipv4-addr:value = '1.2.3.4'", "ipv4-addr:value = '1'",
		"[ipv4-addr:value = 'x'] AND", "[a:b = 'unterminated]", "[a:b LIKE 5]", "[a:b MATCHES '(']", "[a:b ISSUBSET 'nope']",
		"[a:b = 1] WITHIN x SECONDS", "[a:b = 'x'] garbage", "[a:b = 'x\\q']", "[a:b = h'zz']", "[a:b > true]",
		strings.Repeat("(", 500) + "[a:b = 1]" + strings.Repeat(")", 500),
	} {
		if _, err := Parse(bad); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want a syntax error", bad, err)
		}
	}
}

// TestSharedPatterns parses every indicator pattern of the OASIS, MISP and
// medallion examples.
func TestSharedPatterns(t *testing.T) {
	dir := sharedDir(t, "intel", "stix-examples")
	n := 0
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".json") || strings.Contains(path, "schemas") || strings.Contains(path, "interop") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, p := range findPatterns(data) {
			n++
			if _, err := Parse(p); err != nil {
				t.Errorf("%s: %q: %v", filepath.Base(path), p, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Errorf("only %d patterns found", n)
	}
	t.Logf("%d patterns", n)
}

// findPatterns collects "pattern" strings anywhere in a JSON document.
func findPatterns(data []byte) []string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if p, ok := x["pattern"].(string); ok && x["type"] == "indicator" {
				out = append(out, p)
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	return out
}

func TestBundles(t *testing.T) {
	dir := sharedDir(t, "intel", "stix-examples")
	for _, rel := range []string{"cti-stix2-json-schemas/examples/threat-reports/apt1.json", "cti-documentation/examples/example_json/indicator-for-malicious-url.json",
		"misp-stixtest/stix2_indicators_test.json", "cti-stix2-json-schemas/examples/interop-objectmarking-test.json"} {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := DecodeBundle(data)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if len(b.Objects) == 0 {
			t.Errorf("%s: no objects", rel)
		}
	}
	if _, err := DecodeBundle([]byte(`{"type":"bundle","objects":[{"type":"indicator"}]}`)); err == nil {
		t.Error("object without id accepted")
	}
	if _, err := DecodeBundle([]byte(`[1,2]`)); err == nil {
		t.Error("array accepted")
	}
}

func TestTLPOf(t *testing.T) {
	defs := map[string]*Object{"marking-definition--x": {Type: "marking-definition", DefinitionType: "tlp", Definition: json.RawMessage(`{"tlp":"red"}`)}}
	o := &Object{ObjectMarkingRefs: []string{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}}
	if got := TLPOf(o, defs); got != "green" {
		t.Errorf("green = %q", got)
	}
	o.ObjectMarkingRefs = append(o.ObjectMarkingRefs, "marking-definition--x")
	if got := TLPOf(o, defs); got != "red" {
		t.Errorf("most restrictive = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"[ipv4-addr:value = '1.2.3.4']", "[file:hashes.'SHA-256' = 'aa' AND file:size > 5] WITHIN 5 SECONDS",
		"([a:b IN (1, 2.5, 'x')] OR [c:d[*].e LIKE '%x_']) FOLLOWEDBY [EXISTS f:g] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
		"[a:b MATCHES '^x$' AND c:d ISSUBSET '10.0.0.0/8']", "[a:b = h'ff' OR a:b = b'AA==']"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		p.Match(obs{"a:b": {"x"}})
		p.Simple()
		if p.String() != s {
			t.Fatalf("String() = %q", p.String())
		}
	})
}

func FuzzDecodeBundle(f *testing.F) {
	f.Add([]byte(`{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","id":"indicator--1","pattern":"[a:b = 'c']"}]}`))
	f.Add([]byte(`{"type":"indicator","id":"indicator--1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBundle(data)
		if err != nil {
			return
		}
		for i := range b.Objects {
			_ = TLPOf(&b.Objects[i], nil)
			_ = b.Objects[i].AttackID()
		}
	})
}
