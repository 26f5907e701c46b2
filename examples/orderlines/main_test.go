package main

import (
	"strings"
	"testing"
)

func TestTopologyBuildsWithTheSubscriptionTopics(t *testing.T) {
	topo, err := topology()
	if err != nil {
		t.Fatal(err)
	}
	d := topo.Describe()
	for _, want := range []string{"<application.id>-order-product-subscription-registration-topic", "<application.id>-order-product-subscription-response-topic"} {
		if !strings.Contains(d, want) {
			t.Fatalf("topology does not use %s:\n%s", want, d)
		}
	}
}
