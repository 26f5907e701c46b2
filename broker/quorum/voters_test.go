package quorum

import (
	"strings"
	"testing"
)

func TestParseVotersAcceptsKafkasSyntax(t *testing.T) {
	got, err := ParseVoters("3@c3.example:9093, 1@127.0.0.1:9093,2@[::1]:9094")
	if err != nil {
		t.Fatal(err)
	}
	want := []Voter{{1, "127.0.0.1", 9093}, {2, "::1", 9094}, {3, "c3.example", 9093}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("voter %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := FormatVoters(got); s != "1@127.0.0.1:9093,2@[::1]:9094,3@c3.example:9093" {
		t.Fatalf("FormatVoters = %s", s)
	}
}

func TestParseVotersRejectsWithKafkasMessages(t *testing.T) {
	for _, tc := range []struct{ value, message string }{
		{"1-localhost:9093", "Invalid configuration value for controller.quorum.voters. Each entry should be in the form `{id}@{host}:{port}`."},
		{"1@a@b:9093", "Invalid configuration value for controller.quorum.voters."},
		{"one@localhost:9093", "Failed to parse voter ID as an integer from one"},
		{"1@localhost", "Failed to parse host name from entry 1@localhost for the configuration controller.quorum.voters."},
		{"1@localhost:port", "Failed to parse host name from entry 1@localhost:port"},
		{"1@:9093", "Failed to parse host name from entry 1@:9093"},
		{"1@localhost:99999", "Failed to parse host port from entry 1@localhost:99999"},
		{"1@0.0.0.0:9093", "Host string (0.0.0.0) is not routeable"},
		{"1@a:1,1@b:2", "Duplicate voter ID 1"},
		{"-1@a:1", "not negative"},
		{"", "non-empty list"},
	} {
		_, err := ParseVoters(tc.value)
		if err == nil || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("ParseVoters(%q) = %v, want an error containing %q", tc.value, err, tc.message)
		}
	}
}

func TestStartRefusesANodeThatIsNotAVoter(t *testing.T) {
	voters, _ := ParseVoters("1@127.0.0.1:1,2@127.0.0.1:2")
	_, err := Start(Config{NodeID: 5, Voters: voters, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "node.id 5 is not one of the voters") {
		t.Fatalf("Start = %v", err)
	}
}
