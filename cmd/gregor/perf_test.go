package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

var (
	progressLine     = regexp.MustCompile(`^\d+ records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency\.$`)
	produceFinalLine = regexp.MustCompile(`^(\d+) records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, [\d.]+ ms 50th, [\d.]+ ms 95th, [\d.]+ ms 99th, [\d.]+ ms 99\.9th\.$`)
	consumeLine      = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, [\d.]+, [\d.]+, (\d+), [\d.]+, \d+, \d+, [\d.]+, [\d.]+$`)
	e2eLine          = regexp.MustCompile(`^(\d+) records produced at [\d.]+ records/sec, (\d+) consumed; end-to-end latency [\d.]+ ms avg, [\d.]+ ms max, [\d.]+ ms 50th, [\d.]+ ms 95th, [\d.]+ ms 99th, [\d.]+ ms 99\.9th\.$`)
)

func TestPerfProduceThenConsumeReportParseableFigures(t *testing.T) {
	bs := startTestCluster(t)

	r := mustGregor(t, "", "perf", "produce", "--topic", "perf", "--partitions", "2", "--num-records", "3000",
		"--record-size", "100", "--throughput", "20000", "--reporting-interval-ms", "40", "--output-json", "-b", bs)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("want progress lines, a final line and a JSON line, got:\n%s", r.stdout)
	}
	for _, l := range lines[:len(lines)-2] {
		if !progressLine.MatchString(l) {
			t.Errorf("progress line does not parse: %q", l)
		}
	}
	m := produceFinalLine.FindStringSubmatch(lines[len(lines)-2])
	if m == nil || m[1] != "3000" {
		t.Errorf("final line does not report 3000 records: %q", lines[len(lines)-2])
	}
	var produced produceResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &produced); err != nil {
		t.Fatalf("JSON line %q: %v", lines[len(lines)-1], err)
	}
	if produced.Type != "produce" || produced.Records != 3000 || produced.Errors != 0 || produced.RecordsPerSec <= 0 ||
		produced.P50Ms > produced.P99Ms || produced.P99Ms > produced.MaxMs {
		t.Errorf("implausible produce figures: %+v", produced)
	}

	r = mustGregor(t, "", "perf", "consume", "--topic", "perf", "--messages", "3000", "--output-json", "-b", bs)
	lines = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 3 || lines[0]+"\n" != consumeResultHeader {
		t.Fatalf("want header, result and JSON lines, got:\n%s", r.stdout)
	}
	if m := consumeLine.FindStringSubmatch(lines[1]); m == nil || m[1] != "3000" {
		t.Errorf("result line does not report 3000 records: %q", lines[1])
	}
	var consumed consumeResult
	if err := json.Unmarshal([]byte(lines[2]), &consumed); err != nil {
		t.Fatalf("JSON line %q: %v", lines[2], err)
	}
	if consumed.Records != 3000 || consumed.MB < 3000*100.0/bytesPerMB-1e-9 {
		t.Errorf("implausible consume figures: %+v", consumed)
	}

	// With fewer messages than the topic holds.
	r = mustGregor(t, "", "perf", "consume", "--topic", "perf", "--messages", "1000", "--hide-header", "-b", bs)
	if m := consumeLine.FindStringSubmatch(strings.TrimSpace(r.stdout)); m == nil || m[1] != "1000" {
		t.Errorf("partial perf consume: %q", r.stdout)
	}
}

func TestPerfConsumeTimesOutWhenTopicHasTooFewRecords(t *testing.T) {
	bs := startTestCluster(t)
	mustGregor(t, "", "topics", "create", "--topic", "few", "-b", bs)
	mustGregor(t, "a\nb\n", "produce", "--topic", "few", "-b", bs)
	r := mustGregor(t, "", "perf", "consume", "--topic", "few", "--messages", "10", "--timeout-ms", "300", "-b", bs)
	if !strings.Contains(r.stderr, "timeout (300 ms) exceeded") {
		t.Errorf("stderr %q does not warn of the timeout", r.stderr)
	}
	if m := consumeLine.FindStringSubmatch(strings.Split(r.stdout, "\n")[1]); m == nil || m[1] != "2" {
		t.Errorf("stdout %q should report the 2 records read", r.stdout)
	}
}

func TestPerfE2EMeasuresEveryRecord(t *testing.T) {
	bs := startTestCluster(t)
	// Records already in the topic must not count.
	mustGregor(t, "", "topics", "create", "--topic", "e2e", "--partitions", "2", "-b", bs)
	mustGregor(t, "old\nold\n", "produce", "--topic", "e2e", "-b", bs)

	r := mustGregor(t, "", "perf", "e2e", "--topic", "e2e", "--num-records", "300", "--throughput", "3000",
		"--record-size", "64", "--output-json", "-b", bs)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a result line and a JSON line, got:\n%s", r.stdout)
	}
	if m := e2eLine.FindStringSubmatch(lines[0]); m == nil || m[1] != "300" || m[2] != "300" {
		t.Errorf("result line: %q", lines[0])
	}
	var res e2eResult
	if err := json.Unmarshal([]byte(lines[1]), &res); err != nil {
		t.Fatalf("JSON line %q: %v", lines[1], err)
	}
	if res.Consumed != 300 || res.P50Ms <= 0 || res.P999Ms > res.MaxMs {
		t.Errorf("implausible e2e figures: %+v", res)
	}
}
