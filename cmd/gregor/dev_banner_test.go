package main

import (
	"strings"
	"testing"
)

// The dev banner's hints use ./gregor and the addresses actually chosen, so they work as printed.
func TestDevBannerHintsUseTheChosenPorts(t *testing.T) {
	got := devBanner("127.0.0.1:19092", "./data", "", "http://127.0.0.1:18083")
	for _, want := range []string{
		"  ./gregor topics create --topic quickstart --partitions 3 -b 127.0.0.1:19092\n",
		"  echo 'hello gregor' | ./gregor produce --topic quickstart -b 127.0.0.1:19092\n",
		"  kcat -b 127.0.0.1:19092 -L\n",
		"  ./gregor connect status --connect-url http://127.0.0.1:18083\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("banner lacks %q:\n%s", want, got)
		}
	}
	got = devBanner(defaultBootstrap, "./data", "", defaultConnectURL)
	if strings.Contains(got, "quickstart -b") || strings.Contains(got, "--max-messages 1 -b") || strings.Contains(got, "--connect-url") || strings.Contains(got, "go run") {
		t.Errorf("banner for default ports carries flags or go run:\n%s", got)
	}
}
