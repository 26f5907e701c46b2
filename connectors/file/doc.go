// Package file holds the FileStreamSource and FileStreamSink connectors, ports of Kafka's
// org.apache.kafka.connect.file connectors with the same class names and config keys. Importing the
// package registers both in connect.DefaultRegistry.
//
// FileStreamSource tails a file and produces each complete line (without its "\n" or "\r\n") as a
// string value to topic; its source offset is {"filename": file} → {"position": byte offset after the
// last line produced}, so a restarted task resumes there. A trailing line without a newline is held back
// until its newline arrives. Truncation and rotation of the file are not detected yet. FileStreamSink
// appends each record's value and "\n" to file and fsyncs on Flush, so everything Put before a
// successful Flush (and hence every committed Kafka offset) is on disk. Both run a single task:
// several tasks writing to or reading from one file would interleave or duplicate lines.
//
// # Delivery guarantee (file → topic → file)
//
// The pipeline is at-least-once, with duplicates bounded by what was durable:
//
//   - Graceful stop (worker Close, SIGTERM, connector delete, pause or reconfiguration): the source
//     waits for Kafka to acknowledge what it produced and writes its position; the sink flushes,
//     fsyncs and commits its consumer offset. A restart resumes exactly there: no line is lost and
//     none is written twice.
//   - Hard stop (SIGKILL, crash, power loss): no line is lost. Lines are repeated, in order, only
//     from the last durable point on: the source produces again every line after its last flushed
//     position (offset.flush.interval.ms), and the sink writes again every record after its last
//     committed offset. The sink file therefore reads as runs of consecutive source lines in which
//     each run starts at or before the end of the previous one, and never before the lines that were
//     both flushed by the source and committed by the sink at the time of the stop. A line the crash
//     tore in half (a buffered write cut short) is cut off when the sink task starts again, since a
//     Flush always ends on a line boundary.
//
// After a hard stop the sink's partitions return to a restarted worker once the dead worker's group
// session expires (consumer.session.timeout.ms, 45s by default, as in Kafka).
package file
