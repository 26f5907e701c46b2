// Package admin is consumer-group administration that any front end shares: the CLI
// (`gregor groups`), a console or an HTTP API. Its one job today is planning an offset reset the way
// kafka-consumer-groups.sh --reset-offsets does — where each partition of a group moves for a
// strategy (earliest, latest, an offset, a shift, a time, the current commit), clamped to the log —
// and parsing the time arguments Kafka's tool takes (its datetime form and ISO-8601 durations).
// It reaches Kafka through franz-go's kadm only, so it works against any Kafka-compatible cluster;
// front ends keep their flags, confirmation and printing, and turn its errors into their own words
// (GroupError and PartitionError carry what they need).
package admin
