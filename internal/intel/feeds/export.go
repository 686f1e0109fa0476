package feeds

import (
	"bufio"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
)

// STIX 2.1 TLP 2.0 marking definitions, by level.
var tlpMarkingIDs = map[intel.TLP]string{
	intel.TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	intel.TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	intel.TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	intel.TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	intel.TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// Pattern renders an indicator as a STIX pattern.
func Pattern(ind *intel.Indicator) string {
	q := func(s string) string {
		return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
	}
	switch ind.Type {
	case intel.TypeIP, intel.TypeCIDR:
		if strings.Contains(ind.Value, ":") {
			return "[ipv6-addr:value = " + q(ind.Value) + "]"
		}
		return "[ipv4-addr:value = " + q(ind.Value) + "]"
	case intel.TypeIPPort:
		i := strings.LastIndexByte(ind.Value, ':')
		host := strings.Trim(ind.Value[:i], "[]")
		kind := "ipv4-addr"
		if strings.Contains(host, ":") {
			kind = "ipv6-addr"
		}
		return "[network-traffic:dst_ref.type = '" + kind + "' AND network-traffic:dst_ref.value = " + q(host) +
			" AND network-traffic:dst_port = " + ind.Value[i+1:] + "]"
	case intel.TypeDomain:
		return "[domain-name:value = " + q(ind.Value) + "]"
	case intel.TypeURL:
		return "[url:value = " + q("http://"+ind.Value) + "]"
	case intel.TypeMD5:
		return "[file:hashes.MD5 = " + q(ind.Value) + "]"
	case intel.TypeSHA1:
		return "[file:hashes.'SHA-1' = " + q(ind.Value) + "]"
	case intel.TypeSHA256:
		return "[file:hashes.'SHA-256' = " + q(ind.Value) + "]"
	case intel.TypeSHA512:
		return "[file:hashes.'SHA-512' = " + q(ind.Value) + "]"
	case intel.TypeEmail:
		return "[email-addr:value = " + q(ind.Value) + "]"
	case intel.TypePattern:
		return ind.Value
	case intel.TypeUnknown:
	}
	return ""
}

// uuidFrom derives a stable version-5-shaped UUID from a name.
func uuidFrom(name string) string {
	h := sha1.Sum([]byte(name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// STIXIndicator renders an indicator as a STIX 2.1 indicator object.
func STIXIndicator(ind *intel.Indicator) map[string]any {
	id := ind.STIXID
	if !strings.HasPrefix(id, "indicator--") {
		id = "indicator--" + uuidFrom(ind.Tenant+"/"+ind.ID)
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	created := ind.FirstSeen
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	modified := ind.LastSeen
	if modified.Before(created) {
		modified = created
	}
	validFrom := ind.ValidFrom
	if validFrom.IsZero() {
		validFrom = created
	}
	o := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": id,
		"created": ts(created), "modified": ts(modified),
		"pattern": Pattern(ind), "pattern_type": "stix", "valid_from": ts(validFrom),
		"confidence":          ind.Confidence,
		"object_marking_refs": []string{tlpMarkingIDs[ind.TLP]},
	}
	if !ind.ValidUntil.IsZero() && ind.ValidUntil.After(validFrom) {
		o["valid_until"] = ts(ind.ValidUntil)
	}
	if ind.Description != "" {
		o["description"] = ind.Description
	}
	if len(ind.Tags) > 0 {
		o["labels"] = ind.Tags
	}
	var refs []map[string]string
	for _, a := range ind.Attack {
		refs = append(refs, map[string]string{"source_name": "mitre-attack", "external_id": a})
	}
	if len(refs) > 0 {
		o["external_references"] = refs
	}
	return o
}

// ExportWriter streams indicators as a STIX bundle, a MISP event or CSV.
type ExportWriter struct {
	w      *bufio.Writer
	format string
	n      int
	name   string
}

// NewExportWriter starts an export in format "stix", "misp" or "csv";
// name labels the bundle or event.
func NewExportWriter(w io.Writer, format, name string) (*ExportWriter, error) {
	e := &ExportWriter{w: bufio.NewWriterSize(w, 64<<10), format: format, name: name}
	switch format {
	case "stix":
		fmt.Fprintf(e.w, `{"type":"bundle","id":"bundle--%s","objects":[`, uuidFrom(name+time.Now().String()))
	case "misp":
		ev := fmt.Sprintf(`{"Event":{"uuid":%q,"info":%s,"date":%q,"threat_level_id":"4","analysis":"2","distribution":"0","Attribute":[`,
			uuidFrom(name), strconv.Quote(name), time.Now().UTC().Format("2006-01-02"))
		e.w.WriteString(ev)
	case "csv":
		e.w.WriteString("type,value,confidence,tlp,source,valid_until,tags,attack\n")
	default:
		return nil, fmt.Errorf("export format %q: want stix, misp or csv", format)
	}
	return e, nil
}

var mispExportTypes = map[intel.Type]string{
	intel.TypeIP: "ip-dst", intel.TypeCIDR: "ip-dst", intel.TypeIPPort: "ip-dst|port", intel.TypeDomain: "domain",
	intel.TypeURL: "url", intel.TypeMD5: "md5", intel.TypeSHA1: "sha1", intel.TypeSHA256: "sha256",
	intel.TypeSHA512: "sha512", intel.TypeEmail: "email-src",
}

// Write adds one indicator.
func (e *ExportWriter) Write(ind *intel.Indicator) error {
	switch e.format {
	case "stix":
		b, err := json.Marshal(STIXIndicator(ind))
		if err != nil {
			return err
		}
		if e.n > 0 {
			e.w.WriteByte(',')
		}
		e.w.Write(b)
	case "misp":
		t, ok := mispExportTypes[ind.Type]
		if !ok {
			return nil
		}
		v := ind.Value
		if ind.Type == intel.TypeIPPort {
			i := strings.LastIndexByte(v, ':')
			v = strings.Trim(v[:i], "[]") + "|" + v[i+1:]
		}
		if ind.Type == intel.TypeURL {
			v = "http://" + v
		}
		tags := []map[string]string{{"name": "tlp:" + ind.TLP.String()}}
		for _, tg := range ind.Tags {
			tags = append(tags, map[string]string{"name": tg})
		}
		b, err := json.Marshal(map[string]any{"uuid": uuidFrom(ind.Tenant + "/" + ind.ID), "type": t, "category": "Network activity",
			"value": v, "to_ids": ind.Warninglist == "", "timestamp": strconv.FormatInt(ind.LastSeen.Unix(), 10),
			"comment": ind.Description, "Tag": tags})
		if err != nil {
			return err
		}
		if e.n > 0 {
			e.w.WriteByte(',')
		}
		e.w.Write(b)
	case "csv":
		until := ""
		if !ind.ValidUntil.IsZero() {
			until = ind.ValidUntil.UTC().Format(time.RFC3339)
		}
		fields := []string{ind.Type.String(), ind.Value, strconv.Itoa(ind.Confidence), ind.TLP.String(), ind.Source, until,
			strings.Join(ind.Tags, ";"), strings.Join(ind.Attack, ";")}
		for i, f := range fields {
			if i > 0 {
				e.w.WriteByte(',')
			}
			if strings.ContainsAny(f, ",\"\n") {
				f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
			}
			e.w.WriteString(f)
		}
		e.w.WriteByte('\n')
	}
	e.n++
	return nil
}

// Close ends the document.
func (e *ExportWriter) Close() error {
	switch e.format {
	case "stix":
		e.w.WriteString("]}\n")
	case "misp":
		e.w.WriteString("]}}\n")
	}
	return e.w.Flush()
}

// Count is the number of indicators written.
func (e *ExportWriter) Count() int { return e.n }
