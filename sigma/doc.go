// Package sigma parses Sigma rules (specification 2.1: detection rules,
// correlation rules and meta filters) and evaluates them against
// [event.Event]s.
//
// # API
//
//	rules, err := sigma.ParseRules(name, data)       // every document of one YAML file
//	coll, errs := sigma.LoadFS(fsys, root)           // a whole rules tree; per-file errors, keeps going
//	eng, err := sigma.Compile(coll, sigma.Options{}) // usable engine even when some rules fail
//	eng.Problems()                                    // []*RuleError: invalid or unsupported rules
//	eng.Match(ev, func(m sigma.Match) { ... })        // safe for concurrent use
//	eng.Flush(now, fn)                                // close correlation windows (zero now: all)
//
// A [Match] names the [Rule] (id, title, level, author, tags; [Rule.Attack]
// gives the ATT&CK tags), the event and the search identifiers that were
// true for it (Selections). For a correlation rule it carries a
// [CorrelationMatch]: group-by values, the aggregate, first and last time and
// the last events of the group.
//
// # Semantics
//
// Field names are the event's own names (dotted for nested JSON). Values
// match case-insensitively unless the cased modifier is given; regular
// expressions are case-sensitive unless re|i. Wildcards * and ? and the
// backslash escapes are those of the specification. Keyword searches (lists
// without field names) are searched as substrings of the event's message and
// of every field value. neq on an absent field is true (it is "not equal").
// Regular expressions use RE2; an expression RE2 cannot express makes the
// rule unsupported ([ErrUnsupported]), never silently dropped. The expand
// modifier takes its values from [Options.Placeholders]; a placeholder without
// values makes the rule unsupported unless [Options.UnknownPlaceholder] says
// otherwise.
//
// A rule is evaluated only against events whose LogSource it covers: each of
// product, category and service is empty in the rule or equal (category
// registry_event also covers registry_add, registry_set, ...). Callers set
// ev.LogSource; [LogSourceMap] does it for Windows events from a THOR-style
// mapping (SigmaHQ tests/thor.yml), by Channel and EventID, and adds the
// Sigma field names the mapping declares.
//
// Meta filters are ANDed into the conditions of the rules they name (by id or
// name) when their logsource is compatible: "condition: not selection"
// suppresses.
//
// # Correlations
//
// Correlation state is keyed by the group-by values (aliases resolved per
// referenced rule), driven by event time (ev.Time), held per correlation rule
// behind its own lock, bounded by [Options.MaxGroups] (evictions are counted,
// see [Engine.CorrelationStats]). Conditions that can only grow (gt, gte on
// event_count, value_count, value_sum) and temporal / temporal_ordered are
// checked on every event over a sliding window, fire once and reset the
// group. Others (lt, lte, eq, neq, value_avg, value_percentile) are checked
// when the group's window (starting at its first event) ends: on a later
// event of the group or in [Engine.Flush]. value_percentile fires for each
// value of the field whose share of the group's events, in percent, meets the
// condition. Rules referenced by a correlation emit no matches of their own
// unless a referencing correlation says generate: true. Correlations may
// reference correlations (chaining). [Engine.SaveState] writes the open
// groups (aggregates and last events) and [Engine.RestoreState] reads them
// into a new engine, so windows survive a restart or a reload; state of a
// correlation whose definition changed is dropped and counted.
//
// # Speed
//
// Rules are grouped by logsource. The first event of each logsource
// merges the groups that cover it into one rule list with one prefilter,
// cached for the following events. Values are lower-cased once at compile
// time and each event field at most once per event, and only when a rule
// reads it. For every rule the compiler derives literals one of which must
// occur for the rule to match (exact values and substrings); exact values
// are looked up in maps and substrings found by one Aho-Corasick pass per
// field, so that only candidate rules are evaluated. The automaton folds
// ASCII case itself (values are scanned without lower-casing them), steps
// through premultiplied state offsets and numbers its states so that
// "does this state report" is a comparison. Literal matchers (equal,
// prefix, suffix, contains, sets) are used instead of regular expressions
// wherever a pattern allows.
//
// # Health
//
// [Engine.RuleStats] counts, per detection rule, the events its condition
// was evaluated on, those it matched, and the evaluation time (sampled).
// Correlation groups are per tenant ([event.Event.Tenant]) and group-by
// values.
package sigma
