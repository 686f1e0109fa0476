package evtx

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

// goldenCases picks one record per channel and provider shape from the
// dataset archives: System + EventData, UserData, unnamed Data, BinXml
// substitutions, Qualifiers, EventSourceName.
var goldenCases = []struct {
	name     string
	archive  string
	file     string
	recordID uint64 // the record header's identifier
}{
	{"security_4688", "evtx-attack-samples.tgz", "Command and Control/DE_RDP_Tunnel_5156.evtx", 3},
	{"security_1102_userdata", "evtx-attack-samples.tgz", "Defense Evasion/DE_1102_security_log_cleared.evtx", 1},
	{"security_4985_binxml", "evtx-attack-samples.tgz", "Defense Evasion/Win_4985_T1186_Process_Doppelganging.evtx", 1},
	{"security_4625", "deepbluecli-evtx.tgz", "evtx/smb-password-guessing-security.evtx", 1},
	{"sysmon_1", "deepbluecli-evtx.tgz", "evtx/sliver-sysmon.evtx", 1},
	{"sysmon_3", "evtx-attack-samples.tgz", "Defense Evasion/DE_remote_eventlog_svc_crash_byt3bl33d3r_sysmon_17_1_3.evtx", 1},
	{"sysmon_12", "evtx-attack-samples.tgz", "Defense Evasion/DE_Powershell_CLM_Disabled_Sysmon_12.evtx", 1},
	{"powershell_4104", "deepbluecli-evtx.tgz", "evtx/Powershell-Invoke-Obfuscation-string-menu.evtx", 1},
	{"powershell_classic_800", "evtx-attack-samples.tgz", "Other/emotet/exec_emotet_ps_800_new-object.evtx", 1},
	{"system_7045", "evtx-attack-samples.tgz", "Privilege Escalation/System_7045_namedpipe_privesc.evtx", 1},
	{"system_104_userdata", "evtx-attack-samples.tgz", "Defense Evasion/DE_104_system_log_cleared.evtx", 1},
	{"application", "deepbluecli-evtx.tgz", "evtx/many-events-application.evtx", 1},
	{"defender_1116", "evtx-attack-samples.tgz", "AutomatedTestingTools/WinDefender_Events_1117_1116_AtomicRedTeam.evtx", 1},
	{"wmi_5861", "deepbluecli-evtx.tgz", "evtx/wmi-event-filter-persistance.evtx", 95},
	{"bits_59", "evtx-attack-samples.tgz", "Execution/windows_bits_4_59_60_lolbas desktopimgdownldr.evtx", 3},
	{"rdp_1149", "evtx-attack-samples.tgz", "Command and Control/DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx", 6},
}

// fieldsText renders an event's reserved parts and typed fields, one per
// line, for golden comparison.
func fieldsText(ev *event.Event) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "time: %s\n", ev.Time.Format(time.RFC3339Nano))
	fmt.Fprintf(&sb, "message: %s\n", ev.Message)
	fmt.Fprintf(&sb, "logsource: product=%s category=%s service=%s\n", ev.LogSource.Product, ev.LogSource.Category, ev.LogSource.Service)
	for _, e := range ev.Errors {
		fmt.Fprintf(&sb, "error: %s\n", e)
	}
	for _, f := range ev.Fields {
		fmt.Fprintf(&sb, "%s (%s): %s\n", f.Name, f.Value.Kind(), f.Value.AppendJSON(nil))
	}
	return sb.String()
}

func TestGolden(t *testing.T) {
	archives := map[string]map[string][]byte{}
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			files, ok := archives[gc.archive]
			if !ok {
				list, _ := readArchive(t, gc.archive)
				files = map[string][]byte{}
				for _, af := range list {
					files[af.name] = af.data
				}
				archives[gc.archive] = files
			}
			data, ok := files[gc.file]
			if !ok {
				t.Fatalf("%s not in %s", gc.file, gc.archive)
			}
			f, err := Open(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			var found *Record
			_ = f.Records(func(r Record) error {
				if r.RecordID == gc.recordID {
					found = &r
					return errStop
				}
				return nil
			})
			if found == nil {
				t.Fatalf("record %d not found", gc.recordID)
			}
			ev := found.Event(event.Event{})
			checkGolden(t, gc.name+".xml", found.XML()+"\n")
			checkGolden(t, gc.name+".fields", fieldsText(ev))
		})
	}
}

var errStop = fmt.Errorf("stop")

// checkGolden compares a rendering against its golden file. The golden
// keeps only a SHA-256 of the rendering and, for field lists, the field
// names and kinds: the records come from ../shared and their content is not
// committed. A mismatch prints the full rendering for review.
func checkGolden(t *testing.T, name, rendered string) {
	t.Helper()
	sum := sha256.Sum256([]byte(rendered))
	got := "sha256 " + hex.EncodeToString(sum[:]) + "\n"
	if strings.HasSuffix(name, ".fields") {
		for _, line := range strings.Split(rendered, "\n") {
			if i := strings.Index(line, "): "); i > 0 && !strings.HasPrefix(line, "time:") && !strings.HasPrefix(line, "message:") {
				got += line[:i+1] + "\n"
			}
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("rendering of %s:\n%s", name, rendered)
		}
	}()
	path := filepath.Join("testdata", "golden", name)
	if parsetest.Update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update to refresh):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
