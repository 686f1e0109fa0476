package sigma

import (
	"errors"
	"sort"
	"testing"
	"time"
)

// unsupportedAllowed lists SigmaHQ rules we knowingly cannot compile, by id,
// with the reason. The test fails when another one appears.
var unsupportedAllowed = map[string]string{}

// testPlaceholders gives the placeholders of rules-placeholder values, as a
// deployment would.
var testPlaceholders = map[string][]string{
	"Administrators":              {"adm_*", "*-admin"},
	"Admins_Workstations":         {"adminws*"},
	"Approved_Inviters":           {"admin@example.org"},
	"COMSPEC":                     {"C:\\Windows\\System32\\cmd.exe"},
	"DC-MACHINE-NAME":             {"DC01$"},
	"Important_AppIds":            {"00000003-0000-0000-c000-000000000000"},
	"KNOWN_LOCATION":              {"DE"},
	"Known_Location":              {"DE"},
	"Legitimate_Countries":        {"DE"},
	"Legitimate_IP_Ranges":        {"10.*"},
	"dc_ip_addresses":             {"10.0.0.10"},
	"dc_machine_accounts":         {"DC01$"},
	"domain_controller_hostnames": {"dc01*"},
	"internal_domains":            {"*.corp.example.org"},
	"known_cdcs":                  {"cdc01*"},
	"legit_ips":                   {"10.0.0.*"},
	"legtimate_identifiers":       {"*@example.org"},
	"ApprovedUserUpn":             {"*@example.org"},
	"DomainControllers":           {"dc*"},
	"HomeTenantID":                {"00000000-0000-0000-0000-000000000000"},
	"ServerSystems":               {"srv*"},
	"UnApprovedDevice":            {"unapproved-*"},
	"UnApprovedIp":                {"203.0.113.*"},
	"UnLegitCountries":            {"XX"},
	"Workstations":                {"ws*"},
	"userdomain":                  {"EXAMPLE"},
}

func TestSigmaHQRulesCompile(t *testing.T) {
	start := time.Now()
	coll, errs := loadAllRules(t)
	for _, err := range errs {
		t.Errorf("invalid: %v", err)
	}
	parsed := time.Since(start)
	eng, _ := Compile(coll, Options{Placeholders: testPlaceholders})
	var unsupported, invalid []string
	for _, p := range eng.Problems() {
		if p.Unsupported() {
			if _, ok := unsupportedAllowed[p.Rule.ID]; !ok {
				unsupported = append(unsupported, p.Error())
			}
		} else {
			invalid = append(invalid, p.Error())
		}
	}
	sort.Strings(unsupported)
	for _, u := range unsupported {
		t.Errorf("unsupported: %s", u)
	}
	for _, u := range invalid {
		t.Errorf("invalid: %s", u)
	}
	if len(coll.Rules) < 3000 {
		t.Errorf("only %d rules parsed", len(coll.Rules))
	}
	t.Logf("%d documents parsed in %v, %d compiled in %v total; %d unsupported, %d invalid; %s",
		len(coll.Rules), parsed, eng.RuleCount(), time.Since(start), len(unsupported), len(invalid), eng)

	// Without placeholder values, placeholder rules are reported as
	// unsupported, never silently dropped.
	eng2, _ := Compile(coll, Options{})
	n := 0
	for _, p := range eng2.Problems() {
		if !errors.Is(p, ErrUnsupported) {
			continue
		}
		n++
	}
	if n == 0 {
		t.Errorf("placeholder rules compiled without placeholder values")
	}
}
