package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
)

// maxBody bounds a request body the API reads (a produced record, a connector config).
const maxBody = 4 << 20

// apiError is an error with the HTTP status it answers with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errBadRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func errNotFound(format string, args ...any) error {
	return &apiError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func errConflict(format string, args ...any) error {
	return &apiError{http.StatusConflict, fmt.Sprintf(format, args...)}
}

func errUnavailable(format string, args ...any) error {
	return &apiError{http.StatusServiceUnavailable, fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its HTTP status: API errors carry their own, Kafka error codes map
// by meaning (client mistakes are 4xx), anything else is the cluster failing (502) or unreachable
// (503).
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.UnknownTopicOrPartition, kerr.GroupIDNotFound, kerr.UnknownTopicID:
			return http.StatusNotFound
		case kerr.TopicAlreadyExists, kerr.NonEmptyGroup, kerr.RebalanceInProgress:
			return http.StatusConflict
		case kerr.InvalidTopicException, kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
			kerr.InvalidConfig, kerr.InvalidRequest, kerr.PolicyViolation, kerr.OffsetOutOfRange,
			kerr.InvalidReplicaAssignment, kerr.InvalidGroupID, kerr.MessageTooLarge, kerr.RecordListTooLarge,
			kerr.InvalidRecord, kerr.InvalidTimestamp:
			return http.StatusBadRequest
		case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed:
			return http.StatusForbidden
		}
		return http.StatusBadGateway
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable
	}
	return http.StatusServiceUnavailable
}

// api adapts a handler returning a value (encoded as JSON) or an error ({"error": message}
// with the status statusOf gives). Each call gets the request timeout.
func (s *Server) api(h func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		v, err := h(r.WithContext(ctx))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			st := statusOf(err)
			var ae *apiError
			if st >= 500 && !errors.As(err, &ae) { // NB: expected answers (Connect absent) are not warnings
				s.log.Warn("api request failed", "path", r.URL.Path, "err", err)
			} else {
				s.log.Debug("api request refused", "path", r.URL.Path, "status", st, "err", err)
			}
			w.WriteHeader(st)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "status": st})
			return
		}
		if v == nil {
			v = map[string]any{}
		}
		_ = json.NewEncoder(w).Encode(v)
	}
}

// decodeBody reads a JSON request body into v, rejecting malformed JSON and unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errBadRequest("empty request body: expected a JSON object")
		}
		return errBadRequest("malformed JSON body: %v", err)
	}
	if dec.More() {
		return errBadRequest("malformed JSON body: more than one JSON value")
	}
	return nil
}

// queryInt parses an optional integer query parameter.
func queryInt(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errBadRequest("query parameter %s=%q is not an integer", name, v)
	}
	return n, nil
}

func itoa32(n int32) string { return strconv.FormatInt(int64(n), 10) }
