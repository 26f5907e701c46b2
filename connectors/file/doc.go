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
package file
