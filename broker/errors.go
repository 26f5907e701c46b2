package broker

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-streams/gregor/broker/log"
)

// logErrors maps the log package's sentinel errors to Kafka error codes: the one table.
var logErrors = []struct {
	err  error
	kerr *kerr.Error
}{
	{log.ErrCorruptMessage, kerr.CorruptMessage},
	{log.ErrMessageTooLarge, kerr.MessageTooLarge},
	{log.ErrInvalidRecord, kerr.InvalidRecord},
	{log.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{log.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{log.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{log.ErrUnsupportedMessageFormat, kerr.UnsupportedForMessageFormat},
	{log.ErrClosed, kerr.NotLeaderForPartition}, // partition closing (deleted topic, shutdown): retriable
	// A disk that is full or failing: Kafka answers KAFKA_STORAGE_ERROR (retriable) for any
	// IOException of a log dir, so clients retry rather than give up.
	{syscall.ENOSPC, kerr.KafkaStorageError},
	{syscall.EDQUOT, kerr.KafkaStorageError},
	{syscall.EIO, kerr.KafkaStorageError},
	{syscall.EROFS, kerr.KafkaStorageError},
}

// codeFor returns the Kafka error code for err (0 for nil, UNKNOWN_SERVER_ERROR if unmapped).
func codeFor(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, e := range logErrors {
		if errors.Is(err, e.err) {
			return e.kerr.Code
		}
	}
	return kerr.UnknownServerError.Code
}

// apiError is an error that answers with a specific Kafka error code and a message for the client.
type apiError struct {
	code *kerr.Error
	msg  string
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.code }

func apiErr(code *kerr.Error, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errText is the message to put in a response's error_message field.
func errText(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
