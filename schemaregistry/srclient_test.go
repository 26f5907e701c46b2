package schemaregistry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// TestFranzGoSRClientRegistersEvolvesLooksUpAndDeletes drives the registry with franz-go's pkg/sr,
// a client written against Confluent's registry.
func TestFranzGoSRClientRegistersEvolvesLooksUpAndDeletes(t *testing.T) {
	_, s := startBrokerAndRegistry(t)
	cl, err := sr.NewClient(sr.URLs(s.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	v1, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: userV1, Type: sr.TypeAvro})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if v1.ID != 1 || v1.Version != 1 {
		t.Fatalf("create: %+v", v1)
	}
	v2, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: userV2})
	if err != nil || v2.Version != 2 {
		t.Fatalf("evolve: %+v %v", v2, err)
	}
	_, err = cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: userBad})
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 409 || !strings.Contains(re.Message, "READER_FIELD_MISSING_DEFAULT_VALUE") {
		t.Fatalf("incompatible change: %v", err)
	}
	found, err := cl.LookupSchema(ctx, "orders-value", sr.Schema{Schema: userV1})
	if err != nil || found.ID != 1 || found.Version != 1 {
		t.Fatalf("lookup: %+v %v", found, err)
	}
	byID, err := cl.SchemaByID(ctx, 2)
	if err != nil || !strings.Contains(byID.Schema, "email") {
		t.Fatalf("by id: %+v %v", byID, err)
	}
	res, err := cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), "orders-value", -1, sr.Schema{Schema: userBad})
	if err != nil || res.Is || len(res.Messages) == 0 {
		t.Fatalf("check: %+v %v", res, err)
	}
	jsonSchema := `{"type":"object","properties":{"a":{"type":"string"}}}`
	if _, err := cl.CreateSchema(ctx, "json-value", sr.Schema{Schema: jsonSchema, Type: sr.TypeJSON}); err != nil {
		t.Fatalf("json: %v", err)
	}
	proto := "syntax = \"proto3\";\npackage demo;\nmessage Order { int64 id = 1; string item = 2; }\n"
	if _, err := cl.CreateSchema(ctx, "proto-value", sr.Schema{Schema: proto, Type: sr.TypeProtobuf}); err != nil {
		t.Fatalf("protobuf: %v", err)
	}
	if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, "orders-value"); r[0].Err != nil {
		t.Fatalf("set compatibility: %v", r[0].Err)
	}
	if r := cl.Compatibility(ctx, "orders-value"); r[0].Err != nil || r[0].Level != sr.CompatFull {
		t.Fatalf("compatibility: %+v", r[0])
	}
	if err := cl.DeleteSchema(ctx, "orders-value", 1, sr.SoftDelete); err != nil {
		t.Fatalf("soft delete version: %v", err)
	}
	deleted, err := cl.DeleteSubject(ctx, "orders-value", sr.SoftDelete)
	if err != nil || len(deleted) != 1 || deleted[0] != 2 {
		t.Fatalf("soft delete subject: %v %v", deleted, err)
	}
	if _, err := cl.DeleteSubject(ctx, "orders-value", sr.HardDelete); err != nil {
		t.Fatalf("hard delete subject: %v", err)
	}
	subjects, err := cl.Subjects(ctx)
	if err != nil || strings.Join(subjects, ",") != "json-value,proto-value" {
		t.Fatalf("subjects: %v %v", subjects, err)
	}
}
