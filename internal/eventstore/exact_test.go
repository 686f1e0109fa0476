package eventstore

import (
	"reflect"
	"testing"
)

func TestKeepExactText(t *testing.T) {
	for q, want := range map[string]string{
		`* | fields a, b`: `* | fields a, b, _exact.a, _exact.b`,
		`"a | fields b" x:y | fields a, "b c", d* | fields e`: `"a | fields b" x:y | fields a, "b c", d*, _exact.a, "_exact.b c", _exact.d* | fields e, _exact.e`,
		`* | fields *`: `* | fields *`,
		`x:in(* | fields a) | stats count(*) as n`:         `x:in(* | fields a) | stats count(*) as n`,
		`* | stats by (ver) count(*) as n | fields ver, n`: `* | stats by (ver) count(*) as n | fields ver, n, _exact.ver, _exact.n`,
		`* | fields _exact.a`:                              `* | fields _exact.a`,
		`"\" | fields a" | sort by (_time)`:                `"\" | fields a" | sort by (_time)`,
		`foo`:                                              `foo`,
	} {
		if got := KeepExactText(q); got != want {
			t.Errorf("KeepExactText(%s)\n got %s\nwant %s", q, got, want)
		}
	}
}

func TestRestoreExact(t *testing.T) {
	r := Row{{"_time", "t"}, {"ver", "2.1"}, {"_exact.ver", "=2.10"}, {"n", "10"}, {"_exact.gone", "=1.0"}, {"_exact.bad", "x"}}
	want := Row{{"_time", "t"}, {"ver", "2.10"}, {"n", "10"}}
	if got := RestoreExact(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	plain := Row{{"a", "1"}}
	if got := RestoreExact(plain); !reflect.DeepEqual(got, plain) {
		t.Fatalf("got %v", got)
	}
}
