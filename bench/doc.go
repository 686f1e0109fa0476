// Package bench measures wacht against its peers side by side: parser
// throughput against encoding/json, and end-to-end durable ingest against a
// standalone VictoriaLogs fed the same events. It is its own module so that
// peers and their clients never enter the product's dependencies.
package bench
