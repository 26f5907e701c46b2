// Package statestore provides the local state of stream processing: key-value stores on
// LevelDB (github.com/syndtr/goleveldb), one database per store per partition under a state
// directory (<stateDir>/<store>/<partition>/), each optionally backed by a compacted Kafka
// changelog topic <application.id>-<store>-changelog whose partition equals the store's. Keys
// and values are bytes at this layer; Typed views a store through a Serde per key and value
// (Bytes, String, Int64, Float64, JSON[T], or the caller's own). The package is usable on its
// own and reaches Kafka only through franz-go (kgo, kadm), so it runs against Gregor's broker
// or any Kafka.
//
// Every write goes to LevelDB first and is then produced, asynchronously and batched by one
// shared kgo client, to the changelog; deletes are tombstones. Flush waits for the acks and
// records the last acknowledged offset as the store's checkpoint under a reserved key in the
// same LevelDB. Open restores the store from checkpoint+1 to the high watermark captured when
// it starts, writing each batch of records together with its checkpoint in one leveldb.Batch,
// so that restored data and checkpoint never disagree. A store without a checkpoint is
// rebuilt from the start of the changelog, and so is a store whose checkpoint is ahead of the
// changelog (the topic was recreated). The guarantee is at-least-once: after a crash, records
// the store already holds may be applied again, which is harmless because each record is a
// full key→value put or a tombstone applied in offset order.
//
// WindowStore builds on the same machinery: its keys are the user key followed by the window
// start (8 bytes big-endian), locally and in a compact,delete changelog, and a local time index
// lets it drop whole expired windows cheaply. An optional write cache (Options.WriteCacheEntries)
// sends only the latest update per key to the changelog between flushes; on a key-value store it
// is a write-back buffer, so LevelDB gets one batch per commit instead of one write per update.
//
// Position tracking (Options.TrackPositions) makes restores exact rather than at-least-once: the
// owner commits with its position (a stream task's input offsets), which goes to the changelog
// as a marker record (key PositionKey, header gregor.position) after the commit's updates, and
// to LevelDB in the same batch as them. Restore applies records up to the last marker only,
// reports its position (RestoredPosition), and re-writes the keys of a commit cut short after it,
// so a new owner continues exactly from a consistent state and input position. Window and
// session stores take position tracking too: with it their writes are buffered like a key-value
// store's and reach LevelDB, time index included, at Commit.
//
// SessionStore does the same for sessions (intervals [start, end] per key): its keys are the user
// key followed by the session end and start (8 bytes big-endian each, Kafka's SessionKeySchema),
// its local index is by session end, and FindSessions returns the sessions a new record merges
// with.
//
// Locking: each KeyValueStore has a mutex (mu) guarding its produce and checkpoint state,
// inflight has its own, and the write cache has its own (cache.mu). Lock order: cache.mu, then
// mu or inflight.mu (taken by produce); mu and inflight.mu are never held together. Only
// cache.mu is held while calling kgo (Produce), and no lock while calling LevelDB.
package statestore
