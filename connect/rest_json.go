package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// errorBody is Kafka Connect's error shape.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{ErrorCode: code, Message: msg})
}

// writeHerderError maps herder errors to status codes.
func writeHerderError(w http.ResponseWriter, err error) {
	msg := err.Error()
	for _, sentinel := range []error{ErrNotFound, ErrAlreadyExists, ErrConflict, ErrInvalidConfig} {
		if rest, ok := strings.CutPrefix(msg, sentinel.Error()+": "); ok {
			msg = rest
			break
		}
	}
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, ve.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, msg)
	case errors.Is(err, ErrAlreadyExists), errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, msg)
	case errors.Is(err, ErrInvalidConfig):
		writeError(w, http.StatusBadRequest, msg)
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// maxBody bounds request bodies.
const maxBody = 8 << 20

// decodeBody decodes a JSON body into v, rejecting trailing data; the error names the problem.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading request body: %v", err)
	}
	if len(data) > maxBody {
		return fmt.Errorf("request body larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("request body is empty; expected a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "(root)"
			}
			return fmt.Errorf("malformed JSON: field %s: expected %s, got JSON %s", field, te.Type, te.Value)
		default:
			return fmt.Errorf("malformed JSON: %v", err)
		}
	}
	if d.More() {
		return errors.New("malformed JSON: trailing data after the JSON object")
	}
	return nil
}

// configMap decodes a config object whose values may be strings, numbers or booleans (Kafka
// accepts those and stores strings).
type configMap map[string]string

func (c *configMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*c = nil
		return nil
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err == nil {
			out[k] = n.String()
			continue
		}
		var bl bool
		if err := json.Unmarshal(v, &bl); err == nil {
			out[k] = strconv.FormatBool(bl)
			continue
		}
		return fmt.Errorf("config value of %q must be a string, number or boolean, got %s", k, v)
	}
	*c = out
	return nil
}
