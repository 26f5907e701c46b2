package schemaregistry

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// ContentType is the registry's media type; responses carry it, requests may also send
// application/json, application/vnd.schemaregistry+json or application/octet-stream, as Confluent
// accepts.
const ContentType = "application/vnd.schemaregistry.v1+json"

var acceptedContentTypes = map[string]bool{
	ContentType:                           true,
	"application/vnd.schemaregistry+json": true,
	"application/json":                    true,
	"application/octet-stream":            true,
}

// Handler is the registry's REST API, Confluent's paths.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, struct{}{}) })
	mux.HandleFunc("GET /subjects", s.listSubjects)
	mux.HandleFunc("POST /subjects/{subject}", s.write(s.lookupSchema, false))
	mux.HandleFunc("DELETE /subjects/{subject}", s.write(s.deleteSubject, true))
	mux.HandleFunc("GET /subjects/{subject}/versions", s.listVersions)
	mux.HandleFunc("POST /subjects/{subject}/versions", s.write(s.register, true))
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}", s.getVersion)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/schema", s.getVersionSchema)
	mux.HandleFunc("GET /subjects/{subject}/versions/{version}/referencedby", s.referencedBy)
	mux.HandleFunc("DELETE /subjects/{subject}/versions/{version}", s.write(s.deleteVersion, true))
	mux.HandleFunc("GET /schemas", s.listSchemas)
	mux.HandleFunc("GET /schemas/types", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, []string{TypeJSON, TypeProtobuf, TypeAvro})
	})
	mux.HandleFunc("GET /contexts", func(w http.ResponseWriter, r *http.Request) {
		// NB: schema contexts are not implemented: everything lives in the default context ".".
		writeJSON(w, http.StatusOK, []string{"."})
	})
	mux.HandleFunc("GET /schemas/ids/{id}", s.getSchemaByID)
	mux.HandleFunc("GET /schemas/ids/{id}/schema", s.getSchemaByIDRaw)
	mux.HandleFunc("GET /schemas/ids/{id}/subjects", s.getSubjectsByID)
	mux.HandleFunc("GET /schemas/ids/{id}/versions", s.getVersionsByID)
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions/{version}", s.write(s.testCompatibility, false))
	mux.HandleFunc("POST /compatibility/subjects/{subject}/versions", s.write(s.testCompatibility, false))
	mux.HandleFunc("GET /config", s.getConfig)
	mux.HandleFunc("PUT /config", s.write(s.putConfig, true))
	mux.HandleFunc("DELETE /config", s.write(s.deleteConfig, true))
	mux.HandleFunc("GET /config/{subject}", s.getConfig)
	mux.HandleFunc("PUT /config/{subject}", s.write(s.putConfig, true))
	mux.HandleFunc("DELETE /config/{subject}", s.write(s.deleteConfig, true))
	mux.HandleFunc("GET /mode", s.getMode)
	mux.HandleFunc("PUT /mode", s.write(s.putMode, true))
	mux.HandleFunc("GET /mode/{subject}", s.getMode)
	mux.HandleFunc("PUT /mode/{subject}", s.write(s.putMode, true))
	mux.HandleFunc("DELETE /mode/{subject}", s.write(s.deleteMode, true))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			if ct := r.Header.Get("Content-Type"); ct != "" {
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || !acceptedContentTypes[mt] {
					writeError(w, errorf(http.StatusUnsupportedMediaType, http.StatusUnsupportedMediaType,
						"HTTP 415 Unsupported Media Type: %q", ct))
					return
				}
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// handler answers one request with a value to encode as JSON, or an error.
type handler func(r *http.Request, body []byte) (any, error)

// write wraps a handler that must run on the primary (mutating, or deciding from the freshest
// state); forward says a follower forwards it. Lookups and compatibility tests are served locally.
func (s *Server) write(h handler, forward bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, errorf(http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge,
					"Request body larger than %d bytes", tooBig.Limit))
				return
			}
			writeError(w, errorf(http.StatusBadRequest, http.StatusBadRequest, "Reading the request body: %v", err))
			return
		}
		if forward {
			if done := s.forwardIfFollower(w, r, body); done {
				return
			}
			s.writeMu.Lock()
			defer s.writeMu.Unlock()
			if err := s.store.catchUp(r.Context()); err != nil {
				writeError(w, errStore(err))
				return
			}
			// NB: a rebalance may have moved the primary while this write waited for the lock or
			// caught up; deciding anyway could hand out an id the new primary also hands out.
			if _, self, _ := s.elector.primary(); !self {
				writeError(w, errorf(http.StatusInternalServerError, codeUnknownLeader,
					"This instance stopped being the primary while handling the write; retry"))
				return
			}
		}
		v, err := h(r, body)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// read wraps a handler that reads local state.
func read(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h(r, nil)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = errStore(err)
	}
	writeJSON(w, ae.status, map[string]any{"error_code": ae.code, "message": ae.message})
}

// decodeBody decodes a JSON request body; malformed JSON is Confluent's 400, a wrong shape 422.
func decodeBody(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return errorf(http.StatusUnprocessableEntity, http.StatusUnprocessableEntity, "Unrecognized field or wrong type: %v", err)
		}
		return errorf(http.StatusBadRequest, http.StatusBadRequest, "Malformed JSON: %v", err)
	}
	return nil
}

func queryBool(r *http.Request, name string) bool {
	b, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return b
}

// parseVersion reads a version path value: a positive number, "latest" or -1 (latest, returned
// as -1).
func parseVersion(s string) (int, error) {
	if s == "latest" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n == 0 || n < -1 {
		return 0, errInvalidVersion(s)
	}
	return int(n), nil
}
