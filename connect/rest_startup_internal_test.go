package connect

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequestBeforeTheHerderExistsAnswers503AfterTheRequestTimeout(t *testing.T) {
	s := newServer(nil, "cluster", nil, NewLoggers(0))
	s.requestTimeout = 200 * time.Millisecond
	began := time.Now()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/connectors", nil))
	took := time.Since(began)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "Worker is starting") || took < s.requestTimeout {
		t.Fatalf("status %d after %v, body %s; want 503 Worker is starting after at least %v", rec.Code, took, rec.Body, s.requestTimeout)
	}
}

func TestRequestWaitingForTheHerderEndsWhenTheServerCloses(t *testing.T) {
	s := newServer(nil, "cluster", nil, NewLoggers(0))
	done := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/connectors", strings.NewReader(`{}`)))
		done <- rec.Code
	}()
	s.Close()
	select {
	case code := <-done:
		if code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request still waits 10 s after Close (the request timeout is 90 s)")
	}
}
