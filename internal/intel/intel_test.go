package intel

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
)

func TestNormalize(t *testing.T) {
	f := func(typ Type, in string, wantType Type, want string) {
		t.Helper()
		gt, got, err := Normalize(typ, in)
		if want == "" {
			if err == nil {
				t.Errorf("Normalize(%s, %q) = %s %q, want an error", typ, in, gt, got)
			}
			return
		}
		if err != nil || got != want || gt != wantType {
			t.Errorf("Normalize(%s, %q) = %s %q, %v; want %s %q", typ, in, gt, got, err, wantType, want)
		}
	}
	f(TypeIP, " 10.1.2.3 ", TypeIP, "10.1.2.3")
	f(TypeIP, "::ffff:10.1.2.3", TypeIP, "10.1.2.3")
	f(TypeIP, "10.0.0.0/8", TypeCIDR, "10.0.0.0/8")
	f(TypeIP, "not-an-ip", TypeIP, "")
	f(TypeCIDR, "10.1.2.3/8", TypeCIDR, "10.0.0.0/8")
	f(TypeCIDR, "10.1.2.3/32", TypeIP, "10.1.2.3")
	f(TypeCIDR, "2001:DB8::/32", TypeCIDR, "2001:db8::/32")
	f(TypeIPPort, "1.2.3.4:443", TypeIPPort, "1.2.3.4:443")
	f(TypeIPPort, "1.2.3.4", TypeIPPort, "")
	f(TypeDomain, "Evil.Example.COM.", TypeDomain, "evil.example.com")
	f(TypeDomain, "localhost", TypeDomain, "")
	f(TypeDomain, "1.2.3.4", TypeDomain, "")
	f(TypeDomain, "a..b", TypeDomain, "")
	f(TypeURL, "HTTP://Evil.com:80/a/b?c=1#frag", TypeURL, "evil.com/a/b?c=1")
	f(TypeURL, "https://evil.com/", TypeURL, "evil.com")
	f(TypeURL, "http://user:pw@evil.com/x", TypeURL, "evil.com/x")
	f(TypeMD5, "D41D8CD98F00B204E9800998ECF8427E", TypeMD5, "d41d8cd98f00b204e9800998ecf8427e")
	f(TypeMD5, "d41d8cd98f00b204e9800998ecf8427", TypeMD5, "")
	f(TypeSHA256, "zz", TypeSHA256, "")
	f(TypeEmail, "Bad.Guy@Evil.COM", TypeEmail, "bad.guy@evil.com")
	f(TypeEmail, "nobody", TypeEmail, "")
	f(TypeUnknown, "x", TypeUnknown, "")
}

func TestGuess(t *testing.T) {
	f := func(in string, want Type, wantValue string) {
		t.Helper()
		gt, v, ok := Guess(in)
		if want == TypeUnknown {
			if ok {
				t.Errorf("Guess(%q) = %s %q, want nothing", in, gt, v)
			}
			return
		}
		if !ok || gt != want || v != wantValue {
			t.Errorf("Guess(%q) = %s %q %v, want %s %q", in, gt, v, ok, want, wantValue)
		}
	}
	f("185.220.101.1", TypeIP, "185.220.101.1")
	f("2001:db8::1", TypeIP, "2001:db8::1")
	f("10.0.0.0/8", TypeCIDR, "10.0.0.0/8")
	f("1.2.3.4:8080", TypeIPPort, "1.2.3.4:8080")
	f("evil.example.com", TypeDomain, "evil.example.com")
	f("evil.example.com/gate.php", TypeURL, "evil.example.com/gate.php")
	f("http://evil.example.com/x", TypeURL, "evil.example.com/x")
	f("d41d8cd98f00b204e9800998ecf8427e", TypeMD5, "d41d8cd98f00b204e9800998ecf8427e")
	f("da39a3ee5e6b4b0d3255bfef95601890afd80709", TypeSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709")
	f("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", TypeSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	f("x@evil.com", TypeEmail, "x@evil.com")
	f("/path/only.php", TypeUnknown, "")
	f("hello world", TypeUnknown, "")
	f("", TypeUnknown, "")
}

func TestTypeAndTLPNames(t *testing.T) {
	for _, typ := range Types() {
		got, err := ParseType(typ.String())
		if err != nil || got != typ {
			t.Errorf("ParseType(%q) = %v, %v", typ, got, err)
		}
	}
	if _, err := ParseType("unknown"); err == nil {
		t.Error("ParseType(unknown) succeeded")
	}
	for _, s := range []string{"TLP:WHITE", "clear", "tlp:green", "amber", "AMBER+STRICT", "red"} {
		if _, err := ParseTLP(s); err != nil {
			t.Errorf("ParseTLP(%q): %v", s, err)
		}
	}
	if tl, _ := ParseTLP("white"); tl != TLPClear {
		t.Errorf("white = %s, want clear", tl)
	}
	if _, err := ParseTLP("purple"); err == nil {
		t.Error("ParseTLP(purple) succeeded")
	}
}

func TestDecay(t *testing.T) {
	day := 24 * time.Hour
	m := DecayModel{Lifetime: 100 * day, Speed: 1, Threshold: 30}
	if got := m.Score(80, 0); got != 80 {
		t.Errorf("score at 0 = %v", got)
	}
	if got := m.Score(80, 50*day); got != 40 {
		t.Errorf("score at half lifetime, speed 1 = %v, want 40", got)
	}
	if got := m.Score(80, 200*day); got != 0 {
		t.Errorf("score after lifetime = %v", got)
	}
	// Horizon is the inverse of Score at the threshold.
	h := m.Horizon(80)
	if s := m.Score(80, h); s < 29.99 || s > 30.01 {
		t.Errorf("score at horizon %v = %v, want 30", h, s)
	}
	if m.Horizon(20) >= 0 {
		t.Error("base below threshold should have no horizon")
	}
	fast := DecayModel{Lifetime: 100 * day, Speed: 3, Threshold: 30}
	if fast.Score(80, 10*day) >= m.Score(80, 10*day) {
		t.Error("a higher speed should decay faster early on")
	}
	seen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ind := &Indicator{Confidence: 80, LastSeen: seen}
	if got := AlertUntil(ind, m); !got.Equal(seen.Add(h)) {
		t.Errorf("AlertUntil = %v, want %v", got, seen.Add(h))
	}
	ind.ValidUntil = seen.Add(day)
	if got := AlertUntil(ind, m); !got.Equal(seen.Add(day)) {
		t.Errorf("valid_until not respected: %v", got)
	}
	if got := AlertUntil(&Indicator{Confidence: 80, LastSeen: seen}, DecayModel{}); got.Before(seen.Add(50 * 365 * day)) {
		t.Errorf("non-decaying type expires at %v", got)
	}
}

func TestPrefixSetNested(t *testing.T) {
	var entries []netEntry
	for i, p := range []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.2.0.0/16", "192.168.0.0/16", "2001:db8::/32", "2001:db8:1::/48", "0.0.0.0/0"} {
		entries = append(entries, netEntry{p: netip.MustParsePrefix(p), m: meta{until: uint32(i)}})
	}
	ps := buildPrefixSet(entries)
	f := func(addr, want string) {
		t.Helper()
		i, ok := ps.lookup(netip.MustParseAddr(addr))
		got := ""
		if ok {
			got = ps.nets[i].String()
		}
		if got != want {
			t.Errorf("lookup %s = %q, want %q", addr, got, want)
		}
	}
	f("10.1.2.3", "10.1.2.0/24")
	f("10.1.3.3", "10.1.0.0/16")
	f("10.0.0.1", "10.0.0.0/8")
	f("10.1.255.255", "10.1.0.0/16")
	f("10.2.0.0", "10.2.0.0/16")
	f("10.3.0.0", "10.0.0.0/8")
	f("10.255.255.255", "10.0.0.0/8")
	f("11.0.0.0", "0.0.0.0/0")
	f("192.168.1.1", "192.168.0.0/16")
	f("2001:db8:1::5", "2001:db8:1::/48")
	f("2001:db8:2::5", "2001:db8::/32")
	f("2001:db9::", "")
	f("9.255.255.255", "0.0.0.0/0")
}

func testIndex(t *testing.T, entries ...IndexEntry) *Index {
	t.Helper()
	b := NewIndexBuilder(len(entries))
	for _, e := range entries {
		if e.AlertUntil.IsZero() {
			e.AlertUntil = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		if !b.Add(e) {
			t.Fatalf("add %+v failed", e)
		}
	}
	return b.Build()
}

func ev(fields ...string) *event.Event {
	e := &event.Event{Time: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), Tenant: "default", ID: "e1"}
	for i := 0; i+1 < len(fields); i += 2 {
		e.Add(fields[i], event.String(fields[i+1]))
	}
	return e
}

func TestIndexMatch(t *testing.T) {
	ix := testIndex(t,
		IndexEntry{Type: TypeIP, Value: "203.0.113.7", Confidence: 80, TLP: TLPAmber},
		IndexEntry{Type: TypeCIDR, Value: "198.51.100.0/24", Confidence: 60},
		IndexEntry{Type: TypeIP, Value: "2001:db8::66", Confidence: 60},
		IndexEntry{Type: TypeIPPort, Value: "192.0.2.9:4444", Confidence: 70},
		IndexEntry{Type: TypeDomain, Value: "evil.example", Confidence: 90},
		IndexEntry{Type: TypeURL, Value: "bad.example/gate.php", Confidence: 75},
		IndexEntry{Type: TypeSHA256, Value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Confidence: 95},
		IndexEntry{Type: TypeEmail, Value: "phish@evil.example", Confidence: 65},
		IndexEntry{Type: TypeIP, Value: "8.8.8.8", Confidence: 50, Warninglist: true},
		IndexEntry{Type: TypeIP, Value: "192.0.2.200", Confidence: 50, AlertUntil: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		IndexEntry{Type: TypePattern, Value: "[process:name = 'mimikatz.exe']", Confidence: 90},
	)
	if ix.Len() != 11 {
		t.Fatalf("Len = %d", ix.Len())
	}
	f := func(e *event.Event, want ...string) {
		t.Helper()
		hits := ix.Match(nil, e)
		var got []string
		for _, h := range hits {
			got = append(got, h.Type.String()+"="+h.Value)
		}
		if len(got) != len(want) {
			t.Fatalf("hits %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("hit %d = %s, want %s", i, got[i], want[i])
			}
		}
	}
	f(ev("source.ip", "203.0.113.7"), "ip=203.0.113.7")
	f(ev("destination.ip", "198.51.100.77"), "cidr=198.51.100.0/24")
	f(ev("destination.ip", "198.51.101.77"))
	f(ev("source.ip", "2001:db8::66"), "ip=2001:db8::66")
	f(ev("destination.ip", "192.0.2.9", "destination.port", "4444"), "ip-port=192.0.2.9:4444")
	f(ev("destination.ip", "192.0.2.9", "destination.port", "4445"))
	f(ev("dns.question.name", "a.b.Evil.Example."), "domain=evil.example")
	f(ev("dns.question.name", "notevil.example"))
	f(ev("url.full", "https://bad.example/gate.php?id=1"), "url=bad.example/gate.php")
	f(ev("url.full", "https://www.evil.example/x"), "domain=evil.example")
	f(ev("file.hash.sha256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"), "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	f(ev("email.from.address", "Phish <PHISH@evil.example>"), "email=phish@evil.example")
	f(ev("process.name", "mimikatz.exe"), "stix-pattern=[process:name = 'mimikatz.exe']")
	f(ev("message", "203.0.113.7 in a field that is no entity"))
	// Array values are checked element by element.
	e := ev()
	e.Add("related.ip", event.Array([]event.Value{event.String("1.1.1.1"), event.String("203.0.113.7")}))
	f(e, "ip=203.0.113.7")

	hits := ix.Match(nil, ev("source.ip", "8.8.8.8", "destination.ip", "192.0.2.200"))
	if len(hits) != 2 || !hits[0].Warninglisted || hits[0].Expired || !hits[1].Expired || hits[1].Warninglisted {
		t.Errorf("warninglisted / expired flags wrong: %+v", hits)
	}
	if h := ix.Match(nil, ev("source.ip", "203.0.113.7")); h[0].Confidence != 80 || h[0].TLP != TLPAmber || h[0].Field != "source.ip" {
		t.Errorf("hit metadata: %+v", h[0])
	}
}

func TestIndexMatchDoesNotAllocate(t *testing.T) {
	ix := testIndex(t, IndexEntry{Type: TypeIP, Value: "203.0.113.7"}, IndexEntry{Type: TypeDomain, Value: "evil.example"},
		IndexEntry{Type: TypeCIDR, Value: "198.51.100.0/24"}, IndexEntry{Type: TypeMD5, Value: "d41d8cd98f00b204e9800998ecf8427e"})
	e := ev("source.ip", "10.1.2.3", "destination.ip", "10.9.8.7", "destination.port", "443", "dns.question.name", "www.example.com",
		"file.hash.md5", "00000000000000000000000000000000", "user.name", "alice", "host.name", "ws1")
	buf := make([]Hit, 0, 8)
	if n := testing.AllocsPerRun(100, func() { buf = ix.Match(buf[:0], e) }); n != 0 {
		t.Errorf("Match allocates %v times per event without a hit", n)
	}
}

func TestWarninglists(t *testing.T) {
	ws := CompileWarninglists([]*Warninglist{
		{Name: "rfc1918", Type: WLCIDR, List: []string{"10.0.0.0/8", "192.168.0.0/16"}, MatchingAttributes: []string{"ip-src", "ip-dst"}},
		{Name: "resolvers", Type: WLCIDR, List: []string{"8.8.8.8", "2001:4860:4860::8888"}, MatchingAttributes: []string{"ip-dst"}},
		{Name: "top", Type: WLHostname, List: []string{"google.com", "*.microsoft.com"}, MatchingAttributes: []string{"domain", "hostname", "url"}},
		{Name: "exact", Type: WLString, List: []string{"Example.org"}, MatchingAttributes: []string{"domain"}},
		{Name: "sub", Type: WLSubstring, List: []string{"sinkhole"}, MatchingAttributes: []string{"domain"}},
		{Name: "re", Type: WLRegex, List: []string{"/^test[0-9]+\\.invalid$/i"}, MatchingAttributes: []string{"domain"}},
		{Name: "hashes", Type: WLString, List: []string{"d41d8cd98f00b204e9800998ecf8427e"}, MatchingAttributes: []string{"md5"}},
	})
	f := func(typ Type, v, want string) {
		t.Helper()
		if got := ws.Check(typ, v); got != want {
			t.Errorf("Check(%s, %q) = %q, want %q", typ, v, got, want)
		}
	}
	f(TypeIP, "10.1.2.3", "rfc1918")
	f(TypeCIDR, "10.1.0.0/16", "rfc1918")
	f(TypeCIDR, "0.0.0.0/0", "")
	f(TypeIP, "8.8.8.8", "resolvers")
	f(TypeIP, "2001:4860:4860::8888", "resolvers")
	f(TypeIP, "8.8.4.4", "")
	f(TypeDomain, "www.google.com", "top")
	f(TypeDomain, "google.com.evil.example", "")
	f(TypeDomain, "update.microsoft.com", "top")
	f(TypeURL, "www.google.com/search?q=x", "top")
	f(TypeDomain, "example.org", "exact")
	f(TypeDomain, "a.example.org", "")
	f(TypeDomain, "x.sinkhole.example", "sub")
	f(TypeDomain, "TEST12.invalid", "re")
	f(TypeEmail, "google.com", "")
	f(TypeMD5, "d41d8cd98f00b204e9800998ecf8427e", "hashes")
	// A list only applies to the attribute types it names.
	f(TypeMD5, "example.org", "")
	var nilSet *WarninglistSet
	if nilSet.Check(TypeIP, "10.0.0.1") != "" {
		t.Error("nil set matched")
	}
}

func TestMatchAlertingLeavesOutWhatCannotAlert(t *testing.T) {
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	b := NewIndexBuilder(4)
	b.Add(IndexEntry{Type: TypeCIDR, Value: "10.0.0.0/8", Confidence: 90, AlertUntil: at.Add(time.Hour), Warninglist: true})
	b.Add(IndexEntry{Type: TypeIP, Value: "192.0.2.9", Confidence: 90, AlertUntil: at.Add(-time.Hour)})
	b.Add(IndexEntry{Type: TypeDomain, Value: "evil.example", Confidence: 90, AlertUntil: at.Add(time.Hour)})
	b.Add(IndexEntry{Type: TypeDomain, Value: "quiet.example", Confidence: 90, AlertUntil: at.Add(time.Hour), Warninglist: true})
	ix := b.Build()
	ev := &event.Event{Time: at}
	ev.Add("source.ip", event.String("10.1.2.3"))
	ev.Add("destination.ip", event.String("192.0.2.9"))
	ev.Add("dns.question.name", event.String("www.evil.example"))
	ev.Add("url.domain", event.String("a.quiet.example"))
	if all := ix.Match(nil, ev); len(all) != 4 {
		t.Fatalf("Match: %d hits, want 4: %+v", len(all), all)
	}
	hits, suppressed := ix.MatchAlerting(nil, ev)
	if len(hits) != 1 || hits[0].Value != "evil.example" || hits[0].Field != "dns.question.name" || suppressed != 3 {
		t.Errorf("MatchAlerting: %+v, %d suppressed; want evil.example and 3", hits, suppressed)
	}
}

func TestMatchAddressPortInAnyOrder(t *testing.T) {
	b := NewIndexBuilder(1)
	b.Add(IndexEntry{Type: TypeIPPort, Value: "198.51.100.7:8443", Confidence: 70, AlertUntil: time.Now().Add(time.Hour)})
	ix := b.Build()
	ev := &event.Event{Time: time.Now()}
	ev.Add("destination.port", event.Int(8443)) // port first, as an integer
	ev.Add("source.ip", event.String("10.0.0.1"))
	ev.Add("destination.ip", event.String("198.51.100.7"))
	ev.Add("destination.port", event.Int(9)) // a later duplicate does not count
	hits := ix.Match(nil, ev)
	if len(hits) != 1 || hits[0].Value != "198.51.100.7:8443" || hits[0].Field != "destination.ip" {
		t.Errorf("hits %+v", hits)
	}
	ev.Fields[0].Value = event.Int(70000)
	if hits := ix.Match(nil, ev); len(hits) != 0 {
		t.Errorf("port out of range matched: %+v", hits)
	}
}

// An address:port indicator marks its address in the address map without
// making the address an indicator; an address indicator added before or
// after keeps its own meaning.
func TestAddressPortMarksAddress(t *testing.T) {
	until := time.Now().Add(time.Hour)
	for _, order := range [][]IndexEntry{
		{{Type: TypeIPPort, Value: "198.51.100.7:8443"}, {Type: TypeIP, Value: "198.51.100.8"}, {Type: TypeIPPort, Value: "198.51.100.8:22"}},
		{{Type: TypeIP, Value: "198.51.100.8"}, {Type: TypeIPPort, Value: "198.51.100.8:22"}, {Type: TypeIPPort, Value: "198.51.100.7:8443"}},
	} {
		b := NewIndexBuilder(3)
		for _, e := range order {
			e.Confidence, e.AlertUntil = 70, until
			b.Add(e)
		}
		ix := b.Build()
		if ix.Len() != 3 {
			t.Errorf("Len %d, want 3", ix.Len())
		}
		if h := ix.LookupIP(nil, "", "198.51.100.7", 0); len(h) != 0 {
			t.Errorf("address of an address:port indicator is an indicator: %+v", h)
		}
		if h := ix.LookupIP(nil, "", "198.51.100.8", 0); len(h) != 1 {
			t.Errorf("address indicator lost: %+v", h)
		}
		at := uint32(time.Now().Unix())
		if h := ix.LookupIPPort(nil, "", "198.51.100.8", 22, at); len(h) != 1 || h[0].Value != "198.51.100.8:22" {
			t.Errorf("address:port of an address indicator: %+v", h)
		}
		if h := ix.LookupIPPort(nil, "", "198.51.100.7", 8443, at); len(h) != 1 {
			t.Errorf("address:port: %+v", h)
		}
		if h := ix.LookupIPPort(nil, "", "198.51.100.9", 8443, at); len(h) != 0 {
			t.Errorf("other address: %+v", h)
		}
	}
}

// A value repeated in related.* is looked up once: one hit, on the field
// that named it first.
func TestMatchRepeatedValueOnce(t *testing.T) {
	b := NewIndexBuilder(1)
	b.Add(IndexEntry{Type: TypeIP, Value: "203.0.113.4", Confidence: 70, AlertUntil: time.Now().Add(time.Hour)})
	ix := b.Build()
	ev := &event.Event{Time: time.Now()}
	ev.Add("source.ip", event.String("203.0.113.4"))
	ev.Add("related.ip", event.Array([]event.Value{event.String("203.0.113.4"), event.String("10.0.0.1")}))
	hits := ix.Match(nil, ev)
	if len(hits) != 1 || hits[0].Field != "source.ip" {
		t.Errorf("hits %+v", hits)
	}
}
