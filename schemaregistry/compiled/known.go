package compiled

import "google.golang.org/protobuf/reflect/protoreflect"

// knownDependencies are the .proto files Confluent's registry and serializers resolve without a
// schema reference (beside google/protobuf/*, which protocompile builds in): Confluent's field
// metadata and decimal, and the google.type messages its ProtobufConverter maps Connect's Date
// and Time to. Field numbers and types are those of Confluent's and Google's files.
var knownDependencies = map[string]string{
	"confluent/meta.proto": `syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}
extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
`,
	"confluent/type/decimal.proto": `syntax = "proto3";
package confluent.type;
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
`,
	"google/type/date.proto": `syntax = "proto3";
package google.type;
message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
`,
	"google/type/timeofday.proto": `syntax = "proto3";
package google.type;
message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
}
`,
}

// KnownDependency returns the text of a .proto file a Protobuf schema may import without a
// reference (confluent/meta.proto, confluent/type/decimal.proto, google/type/date.proto,
// google/type/timeofday.proto), as Confluent's registry allows.
func KnownDependency(path string) (string, bool) {
	s, ok := knownDependencies[path]
	return s, ok
}

// FieldParams returns the params of a field's (confluent.field_meta) option, where Confluent's
// ProtobufConverter keeps what a Connect schema says that Protobuf cannot (a decimal's scale and
// precision), or nil.
func FieldParams(fd protoreflect.FieldDescriptor) map[string]string {
	opts := fd.Options()
	if opts == nil {
		return nil
	}
	var params map[string]string
	opts.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if !f.IsExtension() || f.FullName() != "confluent.field_meta" || f.Kind() != protoreflect.MessageKind {
			return true
		}
		pf := f.Message().Fields().ByName("params")
		if pf == nil || !pf.IsMap() {
			return false
		}
		params = map[string]string{}
		v.Message().Get(pf).Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			params[k.String()] = mv.String()
			return true
		})
		return false
	})
	return params
}
