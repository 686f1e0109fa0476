// Package bench measures wacht against its peers side by side: parser
// throughput against encoding/json, and end-to-end durable ingest against a
// standalone VictoriaLogs fed the same events. It is its own module so that
// peers and their clients never enter the product's dependencies.
//
// Everything lives in _test.go files; nothing here is imported by the
// product. Inputs are generated (syslog lines, synthetic web/auth events) or
// read straight from the OTRF archives in $WACHT_SHARED/datasets (zip and
// tar.gz, read with archive/zip and archive/tar); no data is copied into the
// repository.
//
//	cd bench && go test ./...
//
// runs only TestESBulkIndexer (a few seconds, part of `make test`): the
// official go-elasticsearch esutil.BulkIndexer against the _bulk endpoint of
// a real `wacht serve`, every acknowledged document searchable exactly once.
//
//	make bench    # = cd bench && go test -run '^$' -bench . -benchtime 1x -timeout 60m ./...
//
// runs every benchmark once. One at a time:
//
//	go test -run '^$' -bench Parse -benchtime 3x .          # parsers: MB/s and events/s vs encoding/json
//	go test -run '^$' -bench IngestVs -benchtime 1x -count 2 -timeout 60m .
//	                                                       # wacht vs VictoriaLogs v1.52.1, OTRF Windows events
//	go test -run '^$' -bench TermQuery -benchtime 1x -timeout 60m .
//	                                                       # rare-term query over 10M stored events
//
// The benchmarks build `wacht` from ../ into a temporary directory and, for
// the comparison, VictoriaLogs with `go install
// github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1` into
// $XDG_CACHE_HOME/wacht-bench (kept between runs; WACHT_BENCH_VLOGS names a
// prebuilt binary instead). Servers listen on free 127.0.0.1 ports with data
// in temporary directories and are stopped when a benchmark ends.
//
// Settings (environment; the benchmark strips WACHT_BENCH_* before starting
// wacht, which refuses unknown WACHT_* variables):
//
//	WACHT_BENCH_PARSE_EVENTS  corpus per parser benchmark operation (50000)
//	WACHT_BENCH_EVENTS        OTRF events for the ingest comparison (0: all)
//	WACHT_BENCH_BATCH         lines per ingest request (2000)
//	WACHT_BENCH_BATCH_BYTES   bytes per ingest request (1 MiB)
//	WACHT_BENCH_CLIENTS       concurrent HTTP senders (4)
//	WACHT_BENCH_FORMAT        wacht parser for the OTRF events (winlog)
//	WACHT_BENCH_QUERY_EVENTS  events stored for the term query (10000000)
//	WACHT_BENCH_QUERY_REPEAT  timed repetitions of each query (5)
//	WACHT_BENCH_BULK_DOCS     documents in TestESBulkIndexer (5000)
//	WACHT_BENCH_VLOGS         prebuilt victoria-logs binary
//	WACHT_BENCH_WACHT         prebuilt wacht binary
//	WACHT_BENCH_PROFILE       file for a CPU profile of wacht's ingest (none)
//	WACHT_BENCH_PROFILE_SECONDS  seconds that profile covers (3)
//
// Benchmarks report numbers (b.ReportMetric, b.Logf); they assert
// correctness (every event stored, the right rows found), never timings.
package bench
