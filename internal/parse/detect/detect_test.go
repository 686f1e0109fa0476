package detect_test

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/parse/detect"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

func TestDetect(t *testing.T) {
	f := func(want, in string) {
		t.Helper()
		if got := detect.Detect([]byte(in)); got.Format != want {
			t.Errorf("Detect(%.60q) = %q (%s), want %q", in, got.Format, got.Reason, want)
		}
	}
	f("evtx", "ElfFile\x00\x00\x00\x00")
	f("cloudtrail", `{"Records":[{"eventVersion":"1.08","eventSource":"s3.amazonaws.com"}]}`)
	f("cloudtrail", "{\n  \"Records\": [\n")
	f("cloudtrail", `{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}`)
	f("winlog", `{"@timestamp":"2024-01-01T00:00:00Z","winlog":{"event_id":4688,"channel":"Security"}}`)
	f("winlog", `{"EventID":4624,"Channel":"Security","Hostname":"dc1"}`)
	f("winlog", `{"@timestamp":"2019-05-18T20:36:46.254Z","log_name":"Security","source_name":"Microsoft-Windows-Security-Auditing","event_id":4624,"event_data":{"TargetUserName":"bob"}}`)
	f("okta", `{"eventType":"user.session.start","actor":{"id":"x"},"published":"2024-01-01T00:00:00Z"}`)
	f("azuread", `{"operationName":"Sign-in activity","category":"SignInLogs","properties":{}}`)
	f("gcpaudit", `{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog"}}`)
	f("githubaudit", `{"action":"repo.create","actor":"octocat","org":"acme","created_at":1}`)
	f("suricata", `{"timestamp":"2024-01-01T00:00:00Z","flow_id":1,"event_type":"alert","src_ip":"10.0.0.1"}`)
	f("zeekjson", `{"_path":"dns","ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1"}`)
	f("json", `{"message":"hello","level":"info"}`)
	f("json", `[{"a":1},{"b":2}]`)
	f("cloudtrail", `[{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser"}]`)
	f("zeek", "#separator \\x09\n#fields\tts\n")
	f("w3c", "#Software: Microsoft Internet Information Services 10.0\r\n#Fields: date time\r\n")
	f("cef", "<134>Feb 28 10:00:00 fw CEF:0|Vendor|Product|1.0|100|Blocked|5|src=10.0.0.1\n")
	f("leef", "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.0.1\n")
	f("auditd", "type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59\n")
	f("accesslog", `10.0.0.1 - - [01/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 12`+"\n")
	f("syslog", "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed\n")
	f("syslog", "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure\n")
	f("kv", "time=2025-01-01T00:00:00Z src=10.0.0.1 dst=10.0.0.2 action=deny\n")
	f("", "")
	f("", "just some words\nand more words\n")
	// A vote: one syslog line among access log lines does not decide.
	f("accesslog", strings.Repeat(`10.0.0.1 - - [01/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 12`+"\n", 5)+"<34>Oct 11 22:14:15 host su: x\n")
}

// sample reads the first SampleSize bytes of r.
func sample(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(io.LimitReader(r, detect.SampleSize))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func check(t *testing.T, name string, data []byte, want string) {
	t.Helper()
	got := detect.Detect(data)
	if got.Format != want {
		t.Errorf("%s: detected %q (%s), want %q", name, got.Format, got.Reason, want)
	}
}

// TestDatasets runs detection on every file of every data set in
// datasets/ and compares with the format each is known to have.
func TestDatasets(t *testing.T) {
	dir := filepath.Join(parsetest.Shared(t), "datasets")
	n := 0
	// EVTX archives, with the two web logs and the netlogon log inside.
	for _, arch := range []string{"evtx-attack-samples.tgz", "deepbluecli-evtx.tgz"} {
		f, err := os.Open(filepath.Join(dir, arch))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			want := "-"
			switch {
			case strings.HasSuffix(h.Name, ".evtx"):
				want = "evtx"
			case strings.HasSuffix(h.Name, "_IIS.log"):
				want = "w3c"
			case strings.HasSuffix(h.Name, "access_log.txt"):
				want = "accesslog"
			case strings.Contains(h.Name, "netlogon"):
				want = "" // Netlogon's debug log: no parser, must not be guessed
			}
			if want == "-" {
				continue
			}
			check(t, h.Name, sample(t, tr), want)
			n++
		}
		f.Close()
	}
	// Zeek TSV and JSON twins.
	for _, pat := range []struct{ glob, want string }{
		{"zeek-wrccdc-2018/zeek-default/*.log.gz", "zeek"},
		{"zeek-wrccdc-2018/zeek-json/*.json.gz", "zeekjson"},
	} {
		files, _ := filepath.Glob(filepath.Join(dir, pat.glob))
		for _, p := range files {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			check(t, p, sample(t, zr), pat.want)
			f.Close()
			n++
		}
	}
	// Zipped OTRF sets: Windows events, CloudTrail, auditd, Zeek JSON; the
	// S3 access CSV has no parser.
	zips, _ := filepath.Glob(filepath.Join(dir, "otrf-security-datasets", "*", "*", "*", "*", "*.zip"))
	more, _ := filepath.Glob(filepath.Join(dir, "otrf-security-datasets", "*", "*", "*", "*.zip"))
	more2, _ := filepath.Glob(filepath.Join(dir, "otrf-security-datasets", "*", "*", "*", "*", "*", "*.zip"))
	zips = append(append(zips, more...), more2...)
	for _, p := range zips {
		want := "winlog"
		switch {
		case strings.Contains(p, "/aws/") && strings.Contains(p, "honeybucket"):
			want = ""
		case strings.Contains(p, "/aws/"):
			want = "cloudtrail"
		case strings.Contains(p, "/linux/"):
			want = "auditd"
		case strings.Contains(p, "/zeek/"):
			want = "zeekjson"
		}
		zr, err := zip.OpenReader(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") || strings.HasPrefix(filepath.Base(zf.Name), "._") {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			check(t, p+":"+zf.Name, sample(t, rc), want)
			rc.Close()
			n++
		}
		zr.Close()
	}
	// OTRF Windows sets shipped as .tar.gz: Winlogbeat 6 and NXLog shapes.
	tars, _ := filepath.Glob(filepath.Join(dir, "otrf-security-datasets", "atomic", "windows", "*", "host", "*.tar.gz"))
	for _, p := range tars {
		b := parsetest.TarFile(t, p, ".json")
		check(t, p, b[:min(len(b), detect.SampleSize)], "winlog")
		n++
	}
	// Plain files.
	plain := []struct{ glob, want string }{
		{"suricata-eve/surevego/testdata/eve.json", "suricata"},
		{"suricata-eve/fever/util/testdata/jsonparse_eve.json", "suricata"},
		{"suricata-eve/fever/cmd/fever/cmds/testdata/alertify_input.json", "suricata"},
		{"auditd-go-libaudit/testdata/*.log", "auditd"},
		{"loghub-linux-openssh/*/*_2k.log", "syslog"},
		{"jc-cef-syslog-fixtures/cef.out", "cef"},
		{"jc-cef-syslog-fixtures/syslog-*.out", "syslog"},
	}
	for _, pl := range plain {
		files, _ := filepath.Glob(filepath.Join(dir, pl.glob))
		if len(files) == 0 {
			t.Errorf("no files for %s", pl.glob)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			check(t, p, b[:min(len(b), detect.SampleSize)], pl.want)
			n++
		}
	}
	// Panther: each log object of the five covered types alone. Some test
	// cases are trimmed to the one or two keys a rule reads ({"methodName":
	// …}); those cannot be told apart, so 90% must be recognized and none
	// may be taken for another known source.
	for file, want := range map[string]string{
		"AWS_CloudTrail.jsonl": "cloudtrail", "Okta_SystemLog.jsonl": "okta", "Azure_Audit.jsonl": "azuread",
		"GCP_AuditLog.jsonl": "gcpaudit", "GitHub_Audit.jsonl": "githubaudit",
	} {
		logs := parsetest.PantherLogs(t, file)
		hit := 0
		for i, l := range logs {
			switch got := detect.Detect(l); got.Format {
			case want:
				hit++
			case "json":
				t.Logf("%s record %d: generic json (%.120s)", file, i+1, l)
			default:
				t.Errorf("%s record %d: detected %q (%s), want %q", file, i+1, got.Format, got.Reason, want)
			}
		}
		if hit*10 < len(logs)*9 {
			t.Errorf("%s: %d of %d records recognized", file, hit, len(logs))
		}
		n += len(logs)
	}
	t.Logf("%d files and records detected", n)
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte(`{"eventVersion":"1"}`))
	f.Add([]byte("[{\"a\":"))
	f.Add([]byte("#separator \\x09\n"))
	f.Add([]byte(`10.0.0.1 - - [01/Mar/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 12`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := detect.Detect(b)
		if r.Format != "" && r.Reason == "" {
			t.Fatalf("format %q without a reason", r.Format)
		}
	})
}
