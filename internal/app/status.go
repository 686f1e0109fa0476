package app

import (
	"context"
	"time"
)

// Status is what `wacht status` and /api/v1/status show.
type Status struct {
	Version   string        `json:"version"`
	Uptime    string        `json:"uptime"`
	Data      string        `json:"data"`
	Retention string        `json:"retention"`
	Listeners Addrs         `json:"listeners"`
	Journal   JournalStatus `json:"journal"`
	Store     StoreStatus   `json:"store"`
	Ready     string        `json:"ready"`
}

// JournalStatus describes the journal.
type JournalStatus struct {
	Messages   uint64 `json:"messages"`
	Bytes      uint64 `json:"bytes"`
	LastSeq    uint64 `json:"last_seq"`
	IndexedSeq uint64 `json:"indexed_seq"`
	DurableSeq uint64 `json:"durable_seq"`
	LagBatches uint64 `json:"lag_batches"`
}

// StoreStatus describes the event store.
type StoreStatus struct {
	Rows          uint64    `json:"rows"`
	BytesOnDisk   uint64    `json:"bytes_on_disk"`
	Parts         uint64    `json:"parts"`
	ReadOnly      bool      `json:"read_only"`
	DroppedOld    uint64    `json:"dropped_older_than_retention"`
	DroppedFuture uint64    `json:"dropped_too_far_in_future"`
	Compactions   uint64    `json:"compactions"`
	Oldest        time.Time `json:"oldest,omitzero"`
	Newest        time.Time `json:"newest,omitzero"`
}

// Status reports the node's state.
func (a *App) Status() Status {
	st := a.events.Stats()
	js, _ := a.journal.State(context.Background())
	ready := "ready"
	if err := a.ready(); err != nil {
		ready = err.Error()
	}
	return Status{
		Version:   Version,
		Uptime:    time.Since(a.started).Truncate(time.Second).String(),
		Data:      a.cfg.Data,
		Retention: a.cfg.Store.Retention.String(),
		Listeners: a.Addrs(),
		Journal: JournalStatus{
			Messages: js.Messages, Bytes: js.Bytes, LastSeq: js.LastSeq,
			IndexedSeq: a.indexer.Written(), DurableSeq: a.indexer.Applied(), LagBatches: a.accepter.Lag(),
		},
		Store: StoreStatus{
			Rows: st.Rows, BytesOnDisk: st.BytesOnDisk, Parts: st.Parts, ReadOnly: st.ReadOnly,
			DroppedOld: st.DroppedOld, DroppedFuture: st.DroppedFuture, Compactions: st.Compactions, Oldest: st.MinTime, Newest: st.MaxTime,
		},
		Ready: ready,
	}
}

func (a *App) registerGauges() {
	m := a.Metrics
	// Store statistics are computed once per scrape and shared by the
	// gauges below through a short cache.
	var (
		cached   Status
		cachedAt time.Time
	)
	get := func() StoreStatus {
		if time.Since(cachedAt) > time.Second {
			st := a.events.Stats()
			cached.Store = StoreStatus{Rows: st.Rows, BytesOnDisk: st.BytesOnDisk, Parts: st.Parts, ReadOnly: st.ReadOnly,
				DroppedOld: st.DroppedOld, DroppedFuture: st.DroppedFuture, Compactions: st.Compactions}
			cachedAt = time.Now()
		}
		return cached.Store
	}
	m.NewGauge("wacht_store_rows", func() float64 { return float64(get().Rows) })
	m.NewGauge("wacht_store_bytes_on_disk", func() float64 { return float64(get().BytesOnDisk) })
	m.NewGauge("wacht_store_parts", func() float64 { return float64(get().Parts) })
	m.NewGauge("wacht_store_compactions_total", func() float64 { return float64(get().Compactions) })
	m.NewGauge(`wacht_store_engine_dropped_total{reason="older_than_retention"}`, func() float64 { return float64(get().DroppedOld) })
	m.NewGauge(`wacht_store_engine_dropped_total{reason="too_far_in_future"}`, func() float64 { return float64(get().DroppedFuture) })
	m.NewGauge("wacht_store_read_only", func() float64 {
		if get().ReadOnly {
			return 1
		}
		return 0
	})
	m.NewGauge("wacht_journal_indexed_seq", func() float64 { return float64(a.indexer.Written()) })
	m.NewGauge("wacht_journal_durable_seq", func() float64 { return float64(a.indexer.Applied()) })
	m.NewGauge("wacht_uptime_seconds", func() float64 { return time.Since(a.started).Seconds() })
}
