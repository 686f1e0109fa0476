// Package winlog parses Windows events shipped as JSON: Winlogbeat 7+ and
// Elastic Agent documents (winlog.*), Winlogbeat 6 documents (log_name,
// event_data.*), NXLog's im_msvistalog output and the OTRF lab exports,
// which share NXLog's flat shape or Winlogbeat 6's.
//
// Every shape is normalized to the names Windows and Sigma rules use, at
// top level: EventID, Channel, Provider_Name, Computer, EventRecordID, and
// the EventData names with spaces removed (Image, CommandLine,
// TargetUserName…). The logsource comes from the channel and event id
// (package normalize); for Security 4688 the Image and ParentImage names of
// Sysmon are added, as Sigma's process_creation rules expect.
package winlog

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	jsonparser "github.com/wacht-soc/wacht/internal/parse/json"
	"github.com/wacht-soc/wacht/internal/parse/normalize"
)

// Version of the parser, recorded on its events.
const Version = "1"

func init() {
	parse.Register(parse.Info{
		ID:          "wacht.parsers.winlog",
		Version:     Version,
		Description: "Windows events as JSON (Winlogbeat/Elastic Agent winlog.*, Winlogbeat 6, NXLog, OTRF), Sigma field names",
		New:         func() parse.Parser { return New() },
	})
}

// Parser parses Windows JSON events; one per goroutine.
type Parser struct {
	p fastjson.Parser
}

// New returns a parser.
func New() *Parser { return &Parser{} }

// System field renames: Winlogbeat and NXLog names to Windows' own.
var beatsNames = map[string]string{
	"winlog.event_id":          "EventID",
	"winlog.channel":           "Channel",
	"winlog.provider_name":     "Provider_Name",
	"winlog.provider_guid":     "ProviderGuid",
	"winlog.computer_name":     "Computer",
	"winlog.record_id":         "EventRecordID",
	"winlog.task":              "Task",
	"winlog.opcode":            "Opcode",
	"winlog.keywords":          "Keywords",
	"winlog.version":           "Version",
	"winlog.process.pid":       "ProcessID",
	"winlog.process.thread.id": "ThreadID",
	"winlog.user.identifier":   "UserID",
}

// Winlogbeat 6 kept the System fields at top level under its own names.
var beats6Names = map[string]string{
	"event_id":        "EventID",
	"log_name":        "Channel",
	"source_name":     "Provider_Name",
	"provider_guid":   "ProviderGuid",
	"computer_name":   "Computer",
	"record_number":   "EventRecordID",
	"task":            "Task",
	"opcode":          "Opcode",
	"keywords":        "Keywords",
	"version":         "Version",
	"process_id":      "ProcessID",
	"thread_id":       "ThreadID",
	"user.identifier": "UserID",
	// The account the event was logged under, not its subject: kept
	// under Winlogbeat 7's names so that user.name comes from the event.
	"user.name":   "winlog.user.name",
	"user.domain": "winlog.user.domain",
	"user.type":   "winlog.user.type",
}

var nxlogNames = map[string]string{
	"SourceName":         "Provider_Name",
	"ProviderName":       "Provider_Name",
	"Hostname":           "Computer",
	"RecordNumber":       "EventRecordID",
	"ExecutionProcessID": "ProcessID",
	"ExecutionThreadID":  "ThreadID",
}

// Parse reads one Windows event document into ev.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	if _, err := jsonparser.Object(&p.p, rec, ev); err != nil {
		return err
	}
	jsonparser.PickTime(ev, nil)
	jsonparser.PickMessage(ev, false)
	Normalize(ev)
	return nil
}

// Normalize renames the fields of a flattened Winlogbeat or NXLog document
// to Windows names, sets the logsource and adds the ECS entities.
func Normalize(ev *event.Event) {
	_, beats := ev.Get("winlog.channel")
	if !beats {
		_, beats = ev.Get("winlog.event_id")
	}
	beats6 := false
	if !beats {
		if _, ok := ev.Get("log_name"); ok {
			_, id := ev.Get("event_id")
			_, src := ev.Get("source_name")
			beats6 = id || src
		}
	}
	for i := range ev.Fields {
		f := &ev.Fields[i]
		switch {
		case beats:
			f.Name = beatsName(f.Name, beatsNames, "winlog.")
		case beats6:
			f.Name = beatsName(f.Name, beats6Names, "")
		default:
			if n, ok := nxlogNames[f.Name]; ok {
				f.Name = n
			} else if rest, ok := strings.CutPrefix(f.Name, "EventData."); ok {
				f.Name = dataName(rest)
			} else if strings.IndexByte(f.Name, ' ') >= 0 {
				f.Name = dataName(f.Name)
			}
		}
	}
	// Windows shows keywords as a hex mask; NXLog sends a signed integer.
	for i := range ev.Fields {
		if f := &ev.Fields[i]; f.Name == "Keywords" && f.Value.Kind() == event.KindInt {
			n, _ := f.Value.Int()
			f.Value = event.String("0x" + strconv.FormatUint(uint64(n), 16))
		}
	}
	id := eventID(ev)
	channel := ev.GetString("Channel")
	ev.LogSource = normalize.Windows(channel, id)
	if id == 4688 && ev.LogSource.Service == "security" {
		normalize.Entity(ev, "Image", "NewProcessName")
		normalize.Entity(ev, "ParentImage", "ParentProcessName")
	}
	if beats || beats6 {
		forwarded(ev)
	}
	Entities(ev)
}

// forwarded fixes host.name of an event a Winlogbeat read from another
// machine (Windows Event Forwarding): the beat names its own host, the
// event its Computer. The event's host is the one it happened on; the
// collector is kept as agent.hostname.
func forwarded(ev *event.Event) {
	computer, host := ev.GetString("Computer"), ev.GetString(normalize.HostName)
	if computer == "" || host == "" || sameHost(computer, host) {
		return
	}
	if _, ok := ev.Get("agent.hostname"); !ok {
		ev.Add("agent.hostname", event.String(host))
	}
	ev.Set(normalize.HostName, event.String(computer))
}

// sameHost reports whether two names are one host: equal, or one the
// other's fully qualified name.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	return len(a) > len(b) && a[len(b)] == '.' && strings.EqualFold(a[:len(b)], b)
}

// beatsName is the Windows name of a Winlogbeat field: a System field
// from names, an EventData or UserData one without its prefix (prefix is
// where Winlogbeat puts them: "winlog." since version 7), others as is.
func beatsName(name string, names map[string]string, prefix string) string {
	if n, ok := names[name]; ok {
		return n
	}
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return name
	}
	if data, ok := strings.CutPrefix(rest, "event_data."); ok {
		return dataName(data)
	}
	if data, ok := strings.CutPrefix(rest, "user_data."); ok {
		return dataName(data)
	}
	return name
}

// eventID returns EventID as a number and stores it as one.
func eventID(ev *event.Event) int {
	for i := range ev.Fields {
		f := &ev.Fields[i]
		if f.Name != "EventID" {
			continue
		}
		if n, ok := f.Value.Int(); ok {
			f.Value = event.Int(n)
			return int(n)
		}
		// NXLog may send {"EventID": "4624"}; beats' event.code is text too.
		if n, err := strconv.Atoi(strings.TrimSpace(f.Value.String())); err == nil {
			f.Value = event.Int(int64(n))
			return n
		}
	}
	if s := ev.GetString("event.code"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			ev.Add("EventID", event.Int(int64(n)))
			return n
		}
	}
	return 0
}

// dataName removes the spaces Windows puts into some EventData names.
func dataName(s string) string {
	if strings.IndexByte(s, ' ') < 0 {
		return s
	}
	return strings.ReplaceAll(s, " ", "")
}

// Entities adds the ECS core fields from the Windows names.
func Entities(ev *event.Event) {
	entities.Apply(ev)
	for _, k := range []string{"Hashes", "Hash"} {
		if h := ev.GetString(k); h != "" {
			normalize.Hashes(ev, h)
		}
	}
	// Sysmon writes User as DOMAIN\name.
	if v, ok := ev.Get(normalize.UserName); ok {
		if d, n, cut := strings.Cut(v.Str(), `\`); cut {
			ev.Set(normalize.UserName, event.String(n))
			if _, has := ev.Get(normalize.UserDomain); !has {
				ev.Add(normalize.UserDomain, event.String(d))
			}
		}
	}
}

// entities are the ECS fields read from Windows event data, resolved in one
// pass over the fields.
var entities = normalize.NewRules(
	normalize.Rule{ECS: normalize.HostName, From: []string{"Computer"}},
	normalize.Rule{ECS: normalize.UserName, From: []string{"TargetUserName", "User", "SubjectUserName", "AccountName"}},
	normalize.Rule{ECS: normalize.UserDomain, From: []string{"TargetDomainName", "SubjectDomainName"}},
	normalize.Rule{ECS: normalize.SourceIP, From: []string{"IpAddress", "SourceAddress", "SourceIp"}},
	normalize.Rule{ECS: normalize.SourcePort, From: []string{"IpPort", "SourcePort"}},
	normalize.Rule{ECS: normalize.DestIP, From: []string{"DestinationIp", "DestAddress"}},
	normalize.Rule{ECS: normalize.DestPort, From: []string{"DestinationPort", "DestPort"}},
	normalize.Rule{ECS: normalize.ProcExecutable, From: []string{"Image", "NewProcessName"}},
	normalize.Rule{ECS: normalize.ProcCommand, From: []string{"CommandLine"}},
	normalize.Rule{ECS: normalize.ProcPID, From: []string{"ProcessId", "NewProcessId"}},
	normalize.Rule{ECS: normalize.ParentExec, From: []string{"ParentImage", "ParentProcessName"}},
	normalize.Rule{ECS: normalize.ParentCommand, From: []string{"ParentCommandLine"}},
	normalize.Rule{ECS: normalize.DNSQuestion, From: []string{"QueryName"}},
	normalize.Rule{ECS: "file.path", From: []string{"TargetFilename"}},
)

var _ parse.Parser = (*Parser)(nil)
