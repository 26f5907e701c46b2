package broker

import "github.com/gregor-streams/gregor/broker/fetchsession"

// FetchSessionStats returns the broker's fetch session cache figures.
func FetchSessionStats(b *Broker) fetchsession.Stats { return b.fetchSessions.Stats() }
