// Package fetchsession keeps KIP-227 incremental fetch sessions: the broker's cache of the
// partitions each fetcher reads, so that a fetcher sends only what changed and the broker answers
// only partitions with something new, and the client-side Builder a replica fetcher uses to take
// part in such sessions.
//
// The model, as in Kafka (FetchSession, FetchSessionCache, FetchSessionHandler):
//
//   - A Fetch (v7+) names a session ID and an epoch. ID 0 with epoch 0 is a full fetch that asks
//     for a new session; epoch -1 (FINAL_EPOCH) is a full fetch without a session; a non-zero ID
//     with epoch 0 or -1 closes that session first. A positive epoch is an incremental fetch: it
//     must name a cached session (else FETCH_SESSION_ID_NOT_FOUND) at exactly the epoch the broker
//     expects next (else INVALID_FETCH_SESSION_EPOCH), and must use topic IDs (v13+) exactly when
//     the session does (else FETCH_SESSION_TOPIC_ID_ERROR).
//   - An incremental request lists only the partitions added or changed since the last request and
//     the ForgottenTopics to drop; Cache.Resolve turns it into the full request the broker serves.
//     Context.Filter then keeps in the response only partitions with records, errors, a changed
//     high watermark, last stable offset or log start offset, a preferred read replica, a diverging
//     epoch or aborted transactions; a client keeps what it last saw for the others.
//   - The cache holds at most max.incremental.fetch.session.cache.slots sessions. When full, a new
//     session evicts the least recently used one idle for longer than
//     min.incremental.fetch.session.eviction.ms; otherwise the least valuable session that is at
//     least that old (or, for a replica fetcher, any consumer's session), when the new one is worth
//     more: a replica's over a consumer's, then more partitions.
//
// The Cache is a state machine: its callers pass the time, it does no I/O and starts no
// goroutine, so scripted tests drive it deterministically (testdata/*.txt).
//
// Locking: Cache.mu guards the session table; each session's mu guards its partitions and epoch.
// Cache.mu is never held while taking a session's mu, and a request takes each lock once, never per
// partition. A session's size and last use are atomics so that eviction reads them without its lock.
package fetchsession
