package stix

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// step is one observation fed to a Window and whether it must complete a
// match (and with which observations).
type step struct {
	at   time.Duration // after t0
	o    obs
	want []string // ids of the completed match; nil: no match
}

var t0 = time.Date(2016, 6, 10, 12, 0, 0, 0, time.UTC)

func runWindow(t *testing.T, pattern string, steps []step) *Window {
	t.Helper()
	p, err := Parse(pattern)
	if err != nil {
		t.Fatalf("Parse(%q): %v", pattern, err)
	}
	if !p.Temporal() {
		t.Fatalf("%s: Temporal() = false", pattern)
	}
	w := NewWindow(p, 0, 0)
	for i, s := range steps {
		id := "ev" + strconv.Itoa(i)
		ids, ok := w.Observe(t0.Add(s.at), id, s.o)
		if ok != (s.want != nil) || !slices.Equal(ids, s.want) {
			t.Errorf("%s: step %d (%s): match %v %v, want %v", pattern, i, id, ok, ids, s.want)
		}
	}
	return w
}

// The patterns are the examples of the STIX 2.1 specification, part 9
// (Patterning), with observations made up to satisfy or miss them.

func TestWindowAndNeedsTwoObservations(t *testing.T) {
	const pattern = "[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']"
	first := obs{"file:hashes.MD5": {"cead3f77f6cda6ec00f57d76c9a6879f"}}
	second := obs{"file:hashes.SHA-256": {"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}}
	both := obs{"file:hashes.MD5": {"cead3f77f6cda6ec00f57d76c9a6879f"}, "file:hashes.SHA-256": {"aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}}
	runWindow(t, pattern, []step{
		{at: 0, o: first},
		{at: time.Second, o: first}, // the same side again: still one side
		{at: 2 * time.Second, o: second, want: []string{"ev1", "ev2"}}, // newest partner
		{at: 3 * time.Second, o: second, want: []string{"ev0", "ev3"}}, // the older first one is left
		{at: 4 * time.Second, o: second},                               // no first left: consumed
	})
	// One observation satisfying both sides is not two observations: the
	// second one completes the match (AND does not order them).
	runWindow(t, pattern, []step{
		{at: 0, o: both},
		{at: time.Second, o: both, want: []string{"ev0", "ev1"}},
	})
}

func TestWindowFollowedByWithin(t *testing.T) {
	const pattern = `([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`
	file := obs{"file:hashes.MD5": {"79054025255fb1a26e4bc422aef54eb4"}}
	key := obs{"windows-registry-key:key": {`HKEY_LOCAL_MACHINE\foo\bar`}}
	other := obs{"windows-registry-key:key": {`HKEY_LOCAL_MACHINE\foo\baz`}}
	runWindow(t, pattern, []step{
		{at: 0, o: key},                                               // before the file: does not count
		{at: 10 * time.Second, o: file},                               // A
		{at: 20 * time.Second, o: other},                              // neither
		{at: 100 * time.Second, o: key, want: []string{"ev1", "ev3"}}, // B 90 s after A
	})
	runWindow(t, pattern, []step{
		{at: 0, o: file},
		{at: 301 * time.Second, o: key}, // too late
		{at: 400 * time.Second, o: file},
		{at: 450 * time.Second, o: key, want: []string{"ev2", "ev3"}},
	})
	// An earlier observation arriving late still counts in time order.
	runWindow(t, pattern, []step{
		{at: 60 * time.Second, o: key},
		{at: 30 * time.Second, o: file, want: []string{"ev1", "ev0"}},
	})
}

func TestWindowRepeatsWithin(t *testing.T) {
	const pattern = "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS"
	hit := obs{"network-traffic:dst_ref.type": {"domain-name"}, "network-traffic:dst_ref.value": {"example.com"}}
	miss := obs{"network-traffic:dst_ref.type": {"domain-name"}, "network-traffic:dst_ref.value": {"example.org"}}
	steps := []step{
		{at: 0, o: hit},
		{at: 10 * time.Minute, o: hit},
		{at: 20 * time.Minute, o: miss},
		{at: 20 * time.Minute, o: hit},
		{at: 40 * time.Minute, o: hit},
		{at: 41 * time.Minute, o: hit},
		{at: 42 * time.Minute, o: hit}, // 5 in 42 min, but only 4 within 30 (20, 40, 41, 42)
		{at: 43 * time.Minute, o: hit, want: []string{"ev3", "ev4", "ev5", "ev6", "ev7"}},
		{at: 44 * time.Minute, o: hit}, // consumed: counting starts again
	}
	w := runWindow(t, pattern, steps)
	// The window is the pattern's WITHIN: the first observation fell out.
	if n := w.Len(); n != 1 {
		t.Errorf("window holds %d observations, want 1", n)
	}
}

func TestWindowStartStop(t *testing.T) {
	const pattern = "[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'"
	file := obs{"file:hashes.MD5": {"79054025255fb1a26e4bc422aef54eb4"}}
	runWindow(t, pattern, []step{
		{at: -10 * 24 * time.Hour, o: file},                       // 31 May: before START
		{at: 0, o: file, want: []string{"ev1"}},                   // 10 June
		{at: 21*24*time.Hour - 12*time.Hour, o: file},             // 1 July 00:00: STOP is exclusive
		{at: 20 * 24 * time.Hour, o: file, want: []string{"ev3"}}, // 30 June
	})
}

func TestWindowOrOfAnd(t *testing.T) {
	const pattern = `([file:name = 'foo.dll'] AND [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']`
	dll := obs{"file:name": {"foo.dll"}}
	key := obs{"windows-registry-key:key": {`HKEY_LOCAL_MACHINE\foo\bar`}}
	proc := obs{"process:name": {"procfoo"}}
	runWindow(t, pattern, []step{
		{at: 0, o: proc, want: []string{"ev0"}},
		{at: time.Second, o: key},
		{at: 2 * time.Second, o: proc, want: []string{"ev2"}},
		{at: 3 * time.Second, o: dll, want: []string{"ev1", "ev3"}},
	})
}

func TestWindowThreeAccounts(t *testing.T) {
	const pattern = "[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']"
	acct := func(id, login string) obs {
		return obs{"user-account:account_type": {"unix"}, "user-account:user_id": {id}, "user-account:account_login": {login}}
	}
	runWindow(t, pattern, []step{
		{at: 0, o: acct("1009", "Mary")},
		{at: time.Minute, o: acct("1008", "Peter")}, // wrong id for Peter
		{at: 2 * time.Minute, o: acct("1007", "Peter")},
		{at: 3 * time.Minute, o: acct("1008", "Paul"), want: []string{"ev0", "ev2", "ev3"}},
	})
}

func TestWindowFollowedByRepeats(t *testing.T) {
	// Qualifiers bind to the observation expression before them: two
	// matches of the second bracket, both after the first.
	const pattern = "[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] REPEATS 2 TIMES"
	root := obs{"process:command_line": {`C:\certmgr.exe>-add GlobalSign.cer -c -s -r localMachine Root`}}
	pub := obs{"process:command_line": {`C:\certmgr.exe>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher`}}
	runWindow(t, pattern, []step{
		{at: 0, o: pub}, // before: does not count
		{at: time.Second, o: root},
		{at: 2 * time.Second, o: pub},
		{at: 3 * time.Second, o: pub, want: []string{"ev1", "ev2", "ev3"}},
	})
}

func TestWindowBounds(t *testing.T) {
	p, err := Parse("[ipv4-addr:value = '198.51.100.1'] AND [domain-name:value = 'example.com']")
	if err != nil {
		t.Fatal(err)
	}
	ip := obs{"ipv4-addr:value": {"198.51.100.1"}}
	dom := obs{"domain-name:value": {"example.com"}}
	w := NewWindow(p, time.Hour, 3)
	for i := range 5 {
		if _, ok := w.Observe(t0.Add(time.Duration(i)*time.Second), "ip"+strconv.Itoa(i), ip); ok {
			t.Fatal("one side matched alone")
		}
	}
	if n := w.Len(); n != 3 {
		t.Errorf("window holds %d observations, want the 3 newest", n)
	}
	// Older than the span before the newest observation: gone.
	ids, ok := w.Observe(t0.Add(2*time.Hour), "dom", dom)
	if ok {
		t.Errorf("matched %v across more than the span", ids)
	}
	if _, ok := w.Observe(t0.Add(2*time.Hour), "nothing", obs{"file:name": {"x"}}); ok || w.Len() != 1 {
		t.Errorf("an observation matching no bracket changed the window (%d held)", w.Len())
	}
}

func TestTemporal(t *testing.T) {
	for pattern, want := range map[string]bool{
		"[ipv4-addr:value = '1.2.3.4']":                                          false,
		"[ipv4-addr:value = '1.2.3.4'] OR [domain-name:value = 'a.example']":     false,
		"[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']":    true,
		"[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [file:name = 'x']":             true,
		"[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS":                         true,
		"([ipv4-addr:value = '1.2.3.4']) OR ([file:name = 'x'] REPEATS 2 TIMES)": true,
	} {
		p, err := Parse(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Temporal(); got != want {
			t.Errorf("Temporal(%s) = %v, want %v", pattern, got, want)
		}
	}
}

// FuzzWindow feeds a parsed pattern a few observations at fuzzed times:
// no panic, matches only name observations that were fed, each once.
func FuzzWindow(f *testing.F) {
	f.Add("([a:b = 'x'] FOLLOWEDBY [a:b = 'y']) WITHIN 5 SECONDS", uint8(7), int64(3))
	f.Add("[a:b = 'x'] REPEATS 3 TIMES", uint8(0), int64(-2))
	f.Add("([a:b = 'x'] AND [c:d = 'y']) OR [a:b = 'y'] START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'", uint8(255), int64(1000))
	f.Fuzz(func(t *testing.T, pattern string, mask uint8, step int64) {
		p, err := Parse(pattern)
		if err != nil {
			return
		}
		w := NewWindow(p, time.Minute, 5)
		fed := map[string]bool{}
		for i := range 8 {
			o := obs{"a:b": {"x"}}
			if mask&(1<<i) != 0 {
				o = obs{"a:b": {"y"}, "c:d": {"y"}}
			}
			id := strconv.Itoa(i)
			fed[id] = true
			ids, ok := w.Observe(t0.Add(time.Duration(step*int64(i))*time.Second), id, o)
			if ok != (len(ids) > 0) || !slices.Contains(ids, id) && ok {
				t.Fatalf("observation %s: match %v %v", id, ok, ids)
			}
			for _, x := range ids {
				if !fed[x] {
					t.Fatalf("match names %s twice or never fed: %v", x, ids)
				}
				delete(fed, x)
			}
		}
	})
}
