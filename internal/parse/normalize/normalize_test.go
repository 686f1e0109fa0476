package normalize_test

import (
	"testing"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

func TestWindows(t *testing.T) {
	f := func(channel string, id int, want event.LogSource) {
		t.Helper()
		if got := normalize.Windows(channel, id); got != want {
			t.Errorf("Windows(%q, %d) = %+v, want %+v", channel, id, got, want)
		}
	}
	f("Microsoft-Windows-Sysmon/Operational", 1, event.LogSource{Product: "windows", Category: "process_creation", Service: "sysmon"})
	f("security", 4688, event.LogSource{Product: "windows", Category: "process_creation", Service: "security"})
	f("Security", 4624, event.LogSource{Product: "windows", Service: "security"})
	f("Microsoft-Windows-PowerShell/Operational", 4104, event.LogSource{Product: "windows", Category: "ps_script", Service: "powershell"})
	f("Some/Unknown", 1, event.LogSource{Product: "windows"})
}

func TestSource(t *testing.T) {
	f := func(kind string, want event.LogSource) {
		t.Helper()
		if got := normalize.Source(kind); got != want {
			t.Errorf("Source(%q) = %+v, want %+v", kind, got, want)
		}
	}
	f("cloudtrail", event.LogSource{Product: "aws", Service: "cloudtrail"})
	f("auditd", event.LogSource{Product: "linux", Service: "auditd"})
	f("zeek-dns", event.LogSource{Product: "zeek", Service: "dns"})
	f("webserver", event.LogSource{Category: "webserver"})
	f("nope", event.LogSource{})
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"channel\tSecurity",                    // too few fields
		"event\tsysmon\tone\tprocess_creation", // id not a number
		"event\tsysmon\t1",                     // too few fields
		"source\tx\ty",                         // too few fields
		"colour\tblue\tgreen",                  // unknown kind
	} {
		if _, err := normalize.Parse(bad); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
	tb, err := normalize.Parse("# comment\n\nchannel\tMy/Channel\tmine\nevent\tmine\t7\tthing\nsource\tx\tp\tc\ts\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.Windows("my/channel", 7); got.Service != "mine" || got.Category != "thing" {
		t.Errorf("custom table: %+v", got)
	}
	if got := tb.Source("x"); got != (event.LogSource{Product: "p", Category: "c", Service: "s"}) {
		t.Errorf("custom source: %+v", got)
	}
}

func TestEntity(t *testing.T) {
	ev := &event.Event{}
	ev.Add("src", event.String("-"))
	ev.Add("srcip", event.Null())
	ev.Add("client_ip", event.String("10.0.0.1"))
	ev.Add("other", event.String("10.9.9.9"))
	normalize.Entity(ev, normalize.SourceIP, "src", "srcip", "client_ip", "other")
	if got := ev.GetString(normalize.SourceIP); got != "10.0.0.1" {
		t.Errorf("source.ip = %q, want the first non-empty, non-dash value", got)
	}
	// An existing ECS field is never overwritten.
	normalize.Entity(ev, normalize.SourceIP, "other")
	if got := ev.GetString(normalize.SourceIP); got != "10.0.0.1" {
		t.Errorf("source.ip overwritten with %q", got)
	}
	// Nothing usable: no field.
	normalize.Entity(ev, normalize.UserName, "missing", "src")
	if _, ok := ev.Get(normalize.UserName); ok {
		t.Error("user.name added from nothing")
	}
}

func TestHashes(t *testing.T) {
	ev := &event.Event{}
	ev.Add("file.hash.md5", event.String("keep"))
	normalize.Hashes(ev, "SHA1=AA, MD5=BB,SHA256=CC,IMPHASH=DD,broken,EMPTY=")
	want := map[string]string{"file.hash.sha1": "AA", "file.hash.md5": "keep", "file.hash.sha256": "CC", "file.hash.imphash": "DD"}
	for k, v := range want {
		if got := ev.GetString(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, ok := ev.Get("file.hash.empty"); ok {
		t.Error("empty hash added")
	}
	if len(ev.Fields) != 4 {
		t.Errorf("%d fields, want 4", len(ev.Fields))
	}
}
