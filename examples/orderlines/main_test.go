package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/gregor-streams/gregor/streams"
)

func TestTopologyBuildsWithTheSubscriptionTopics(t *testing.T) {
	topo, err := topology("shop.")
	if err != nil {
		t.Fatal(err)
	}
	d := topo.Describe()
	for _, want := range []string{"<application.id>-order-product-subscription-registration-topic", "<application.id>-order-product-subscription-response-topic",
		"shop.orders", "shop.products", "shop.order-lines", "shop.customers", "shop.payments", "shop.payments-named"} {
		if !strings.Contains(d, want) {
			t.Fatalf("topology does not use %s:\n%s", want, d)
		}
	}
}

// A poison record's error says which setting would skip it.
func TestPoisonRecordErrorNamesTheHandlerThatSkipsIt(t *testing.T) {
	de := &streams.DeserializationError{Topic: "shop.orders", Partition: 1, Offset: 7, Part: "value", Err: errors.New("invalid character 'a' looking for beginning of value")}
	got := explainPoison(de).Error()
	want := "streams: deserialize value of shop.orders/1@7: invalid character 'a' looking for beginning of value\n" +
		"shop.orders/1 at offset 7 is not the JSON this program reads (a poison record; Kafka Streams' " +
		"default.deserialization.exception.handler is LogAndFail, here streams.Config.DeserializationHandler = streams.LogAndFail). " +
		"Rerun with -skip-bad-records (streams.LogAndContinue) to skip it, or with another -topic-prefix to start on fresh topics"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if other := errors.New("x"); explainPoison(other) != other {
		t.Errorf("explainPoison changed an unrelated error")
	}
}
