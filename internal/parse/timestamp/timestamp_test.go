package timestamp_test

import (
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/parse/timestamp"
)

var ref = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	f := func(in string, loc *time.Location, want string) {
		t.Helper()
		got, err := timestamp.Parse(in, ref, loc)
		if want == "" {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want an error", in, got)
			}
			return
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			return
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != want {
			t.Errorf("Parse(%q) = %s, want %s", in, s, want)
		}
	}
	f("2024-05-01T10:00:00Z", nil, "2024-05-01T10:00:00Z")
	f("2024-05-01T10:00:00.123456789Z", nil, "2024-05-01T10:00:00.123456789Z")
	f("2024-05-01 10:00:00,5+02:00", nil, "2024-05-01T08:00:00.5Z")
	f("2024-05-01T10:00:00+0200", nil, "2024-05-01T08:00:00Z")
	f("2024-05-01T10:00:00", berlin, "2024-05-01T09:00:00Z")
	f("2024-05-01T10:00:00", nil, "2024-05-01T10:00:00Z")
	f("2024-12-31T23:59:60Z", nil, "2024-12-31T23:59:59Z") // leap second kept, rounded down
	f("2024-05-01", nil, "2024-05-01T00:00:00Z")
	f("11/Jul/2018:08:41:28 +0300", nil, "2018-07-11T05:41:28Z")
	f("Feb 28 10:00:00", nil, "2025-02-28T10:00:00Z")
	f("Dec 31 23:00:00", nil, "2024-12-31T23:00:00Z") // December read in March: last year
	f("1521911720", nil, "2018-03-24T17:15:20Z")
	f("1521911720865", nil, "2018-03-24T17:15:20.865Z")
	f("1521911720865716", nil, "2018-03-24T17:15:20.865716Z")
	f("Mon, 02 Jan 2006 15:04:05 -0700", nil, "2006-01-02T22:04:05Z")
	f("2024-13-01T00:00:00Z", nil, "")
	f("2023-02-29T00:00:00Z", nil, "")
	f("2024-02-29T00:00:00Z", nil, "2024-02-29T00:00:00Z")
	f("yesterday", nil, "")
	f("", nil, "")
	f("2024-05-01T10:00:00.Z", nil, "")
}

func TestISOPrefix(t *testing.T) {
	tm, n, zoned, err := timestamp.ISO([]byte("2024-05-01T10:00:00Z host app: msg"), time.UTC)
	if err != nil || n != 20 || !zoned || tm.Hour() != 10 {
		t.Errorf("ISO prefix: %v %d %v %v", tm, n, zoned, err)
	}
	if _, _, zoned, _ := timestamp.ISO([]byte("2024-05-01 10:00:00 x"), time.UTC); zoned {
		t.Error("zone reported for a time without one")
	}
}

func TestApacheAndMonth(t *testing.T) {
	if _, err := timestamp.Apache([]byte("31/Feb/2025:10:00:03 +0000")); err == nil {
		t.Error("31 February accepted")
	}
	if _, err := timestamp.Apache([]byte("01/Foo/2025:10:00:03 +0000")); err == nil {
		t.Error("unknown month accepted")
	}
	if m, ok := timestamp.Month([]byte("sEP")); !ok || m != time.September {
		t.Errorf("Month(sEP) = %v %v", m, ok)
	}
}

func TestEpoch(t *testing.T) {
	if !timestamp.Epoch(-5).IsZero() {
		t.Error("negative epoch gave a time")
	}
	if got := timestamp.Epoch(1.5e18); got.Year() != 2017 {
		t.Errorf("nanoseconds: %v", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"2024-05-01T10:00:00Z", "Feb 28 10:00:00", "11/Jul/2018:08:41:28 +0300", "1521911720.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := timestamp.Parse(s, ref, nil)
		if err == nil && got.Location() != time.UTC && got.Location().String() != "UTC" {
			t.Fatalf("Parse(%q) returned a non-UTC time %v", s, got)
		}
	})
}
