package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeShowsTheTopologysOwnDescription keeps README.md's topology section equal to what
// the topology says of itself.
func TestReadmeShowsTheTopologysOwnDescription(t *testing.T) {
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```\n"+topo.Describe()+"```") {
		t.Fatalf("README.md's topology section is not the topology's description; it now is:\n%s", topo.Describe())
	}
}
