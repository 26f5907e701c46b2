package schemaregistry

import (
	"fmt"
	"net/http"
)

// Confluent's error codes (error_code in error bodies).
const (
	codeSubjectNotFound           = 40401
	codeVersionNotFound           = 40402
	codeSchemaNotFound            = 40403
	codeSubjectSoftDeleted        = 40404
	codeSubjectNotSoftDeleted     = 40405
	codeVersionSoftDeleted        = 40406
	codeVersionNotSoftDeleted     = 40407
	codeSubjectConfigNotFound     = 40408
	codeSubjectModeNotFound       = 40409
	codeIncompatible              = 409
	codeInvalidSchema             = 42201
	codeInvalidVersion            = 42202
	codeInvalidCompatibilityLevel = 42203
	codeInvalidMode               = 42204
	codeOperationNotPermitted     = 42205
	codeReferenceExists           = 42206
	codeStoreError                = 50001
	codeOperationTimeout          = 50002
	codeForwardingError           = 50003
	codeUnknownLeader             = 50004
)

// apiError is an error answered as Confluent does: an HTTP status and a body
// `{"error_code": N, "message": "..."}`.
type apiError struct {
	status  int
	code    int
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.message) }

func errorf(status, code int, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func errSubjectNotFound(subject string) *apiError {
	return errorf(http.StatusNotFound, codeSubjectNotFound, "Subject '%s' not found.", subject)
}

func errVersionNotFound(v int) *apiError {
	return errorf(http.StatusNotFound, codeVersionNotFound, "Version %d not found.", v)
}

func errSchemaNotFound() *apiError {
	return errorf(http.StatusNotFound, codeSchemaNotFound, "Schema not found")
}

func errInvalidVersion(v string) *apiError {
	return errorf(http.StatusUnprocessableEntity, codeInvalidVersion,
		"The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)
}

func errInvalidSchema(format string, args ...any) *apiError {
	return errorf(http.StatusUnprocessableEntity, codeInvalidSchema, format, args...)
}

func errStore(err error) *apiError {
	return errorf(http.StatusInternalServerError, codeStoreError, "Error in the backend data store - %v", err)
}
