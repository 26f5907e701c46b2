// Package console is Gregor's console: a web UI and a JSON API (under /api/) over any
// Kafka-compatible cluster and Kafka Connect's REST API. It shows brokers, topics (partitions,
// sizes, offsets, configs, a message browser and a produce form), consumer groups (lag now and over
// time, offset resets with the plan/confirm flow of `gregor groups reset-offsets`), connectors, and
// the topologies that streams applications publish to the compacted topic __gregor_streams_apps.
//
// It reaches Kafka through franz-go (kgo, kadm) and Connect through HTTP only, never through the
// broker's, streams' or connect's Go packages, so it runs against Apache Kafka or Redpanda as well.
// Its assets (plain HTML, CSS and JS modules) are embedded: no build step, no CDN, it works offline.
//
// A Server owns one long-lived kgo client (which reconnects by itself when a broker restarts), a
// sampler goroutine that records end offsets and group lag every few seconds into short ring
// buffers (the sparklines and lag charts), and a reader of __gregor_streams_apps. Locks: each of
// sampler.mu and appsReader.mu guards its own state; neither is held while the other is taken.
package console
