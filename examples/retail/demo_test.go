package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestDemoRunsEverythingInOneProcessAndPrintsItsReport runs `retail demo --duration 6s` as the
// README tells a newcomer to (with its own throwaway Postgres): the final report shows sales at
// the asked rate, price adjustments in Postgres, and every group caught up.
func TestDemoRunsEverythingInOneProcessAndPrintsItsReport(t *testing.T) {
	if _, err := postgresBinDir(); err != nil {
		t.Skip(err)
	}
	var out bytes.Buffer
	err := demoCmd(context.Background(), []string{"--duration", "6s", "--rate", "300", "--dir", t.TempDir()}, &out)
	if err != nil {
		if errors.Is(err, errNoPostgres) {
			t.Skip(err)
		}
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	report := out.String()
	t.Log(report)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`final report after \d`),
		regexp.MustCompile(`sales: [1-9]\d+ \(\d+/s\)`),
		regexp.MustCompile(`reorders in Postgres: \d+`),
		regexp.MustCompile(`prices adjusted: [1-9]\d* skus`),
		regexp.MustCompile(`consumer lag:  retail 0  connect-reorders-sink 0  connect-prices-sink 0`),
	} {
		if !want.MatchString(report) {
			t.Errorf("the report lacks %s", want)
		}
	}
	if strings.Contains(report, "\033[") {
		t.Error("the report to a non-terminal has escape sequences")
	}
}
