// Package metadata is the cluster's metadata model: the records of the metadata log, the immutable Image
// they build, and the Publisher that hands each new image to the parts of a broker that act on it.
//
// # Records
//
// The metadata log (__cluster_metadata in Kafka, the Raft log of broker/quorum here) holds Records in the
// spirit of KRaft's, with Kafka's api keys: RegisterBrokerRecord, FenceBrokerRecord, UnfenceBrokerRecord,
// BrokerRegistrationChangeRecord, TopicRecord, PartitionRecord, PartitionChangeRecord, ConfigRecord,
// RemoveTopicRecord, ProducerIdsRecord, FeatureLevelRecord, NoOpRecord. franz-go's kmsg does not carry
// Kafka's metadata record schemas, so they are Go types here with a compact, versioned encoding written
// with franz-go's kbin primitives: AppendRecord / DecodeRecord (frame: frame version, api key, record
// version; then the body). The decoder never panics and rejects unknown keys and versions.
//
// # Image and Delta
//
// An Image is the state after a prefix of the log: brokers (endpoints, epoch, fenced, in controlled
// shutdown), topics by name and ID, partitions (replicas, ISR, leader, leader epoch, partition epoch,
// adding/removing replicas), topic and broker configs, finalized features, the next producer ID, and the
// offset and epoch of the last record applied. Images are immutable: readers on any goroutine use them
// without locks and keep them as long as they like.
//
// A Delta builds the next image: Replay each record of a committed batch in log order, then Apply(offset,
// epoch) returns the new image and its Changes. The delta copies on write: unchanged topics, partitions,
// brokers and configs are shared with the previous image; a changed one is copied, never modified in
// place. A Delta belongs to one goroutine.
//
// Invariants the image keeps (Replay refuses a record that would break them with ErrInconsistent):
// every partition has replicas; a partition's leader is NoLeader or a member of both its replicas and its
// ISR; a PartitionChangeRecord that names a leader (even the same one) bumps the leader epoch; every
// PartitionChangeRecord bumps the partition epoch; producer IDs never move back; topic names and IDs are
// unique; a removed topic takes its partitions and configs with it.
//
// Snapshots: Image.Records lists the records that rebuild an image from Empty; AppendSnapshot /
// ReadSnapshot write and read them with the image's offset and epoch and a CRC-32C.
//
// # Publisher
//
// The metadata loader (one goroutine: it reads committed batches from the quorum, replays them into its
// Delta and applies) calls Publisher.Publish with each image. Loader is that loader: ApplyBatch takes a
// committed batch as broker/quorum delivers it (index, term, encoded records) and publishes it whole or
// not at all; LoadSnapshot publishes a snapshot with Diff from the previous image. Subscribers — request handlers, partitions,
// group coordinators — receive every image after they subscribed, in order, synchronously on the loader's
// goroutine; Changes.Local(brokerID) tells a broker which partitions it now leads, follows or must delete.
// Publisher.Current returns the latest image lock-free. Callbacks must be quick and must not call back
// into the Publisher (see Publisher for the full contract). The only lock is Publisher.mu, held while
// subscribers run; nothing in this package does I/O.
package metadata
