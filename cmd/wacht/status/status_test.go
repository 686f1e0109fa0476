package status

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSection(t *testing.T) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"rows":22476814,"bytes_on_disk":22476814,"read_only":false,"SyslogTLS":""}`))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	section(&b, "store", m)
	const want = "\nstore\n" +
		"  SyslogTLS      -\n" +
		"  bytes_on_disk  22476814 (22.5 MB)\n" +
		"  read_only      false\n" +
		"  rows           22476814\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
