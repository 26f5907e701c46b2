package schemaregistry

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// canRead applies Confluent's Protobuf rules, comparing the writer's file (the original) with the
// reader's (the update) by message full name and field number: a removed message, a changed
// package, a field whose kind, named type or scalar wire group changed, a required field added or
// removed, and fields moved into a oneof break; renamed and removed optional fields do not.
func (protobufFormat) canRead(reader, writer parsedSchema, readerName, writerName string) []compatIssue {
	r, w := reader.(*protobufSchema).file, writer.(*protobufSchema).file
	var issues []compatIssue
	add := func(errorType, path, description string) {
		issues = append(issues, compatIssue{errorType: errorType, description: description + " at path '" + path + "'", additionalInfo: path})
	}
	if r.Package() != w.Package() {
		add("PACKAGE_CHANGED", "#/", fmt.Sprintf("The package changed from '%s' in the %s schema to '%s' in the %s schema", w.Package(), writerName, r.Package(), readerName))
	}
	readerMessages := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	walkMessages(r.Messages(), func(m protoreflect.MessageDescriptor) { readerMessages[m.FullName()] = m })
	walkMessages(w.Messages(), func(wm protoreflect.MessageDescriptor) {
		path := "#/" + string(wm.FullName())
		rm, ok := readerMessages[wm.FullName()]
		if !ok {
			add("MESSAGE_REMOVED", path, fmt.Sprintf("The message '%s' of the %s schema is missing in the %s schema", wm.FullName(), writerName, readerName))
			return
		}
		movedToNewOneof := map[protoreflect.Name]int{}
		for i := 0; i < wm.Fields().Len(); i++ {
			wf := wm.Fields().Get(i)
			fieldPath := fmt.Sprintf("%s/%d", path, wf.Number())
			rf := rm.Fields().ByNumber(wf.Number())
			if rf == nil {
				if wf.Cardinality() == protoreflect.Required {
					add("REQUIRED_FIELD_REMOVED", fieldPath, fmt.Sprintf("The required field %d of the %s schema is missing in the %s schema", wf.Number(), writerName, readerName))
				}
				continue
			}
			if problem := fieldKindChange(rf, wf); problem != "" {
				add(problem, fieldPath, fmt.Sprintf("Field %d is %s in the %s schema but %s in the %s schema", wf.Number(), describeField(rf), readerName, describeField(wf), writerName))
			}
			if ro := rf.ContainingOneof(); ro != nil && !ro.IsSynthetic() && (wf.ContainingOneof() == nil || wf.ContainingOneof().IsSynthetic()) {
				if wm.Oneofs().ByName(ro.Name()) != nil {
					add("FIELD_MOVED_TO_EXISTING_ONEOF", fieldPath, fmt.Sprintf("Field %d moved into the existing oneof '%s' in the %s schema", wf.Number(), ro.Name(), readerName))
				} else {
					movedToNewOneof[ro.Name()]++
				}
			}
		}
		for name, n := range movedToNewOneof {
			if n > 1 {
				add("MULTIPLE_FIELDS_MOVED_TO_ONEOF", path+"/"+string(name), fmt.Sprintf("%d existing fields moved into the new oneof '%s' in the %s schema", n, name, readerName))
			}
		}
		for i := 0; i < rm.Fields().Len(); i++ {
			rf := rm.Fields().Get(i)
			if wm.Fields().ByNumber(rf.Number()) == nil && rf.Cardinality() == protoreflect.Required {
				add("REQUIRED_FIELD_ADDED", fmt.Sprintf("%s/%d", path, rf.Number()), fmt.Sprintf("The required field %d of the %s schema is missing in the %s schema", rf.Number(), readerName, writerName))
			}
		}
	})
	return issues
}

func walkMessages(ms protoreflect.MessageDescriptors, fn func(protoreflect.MessageDescriptor)) {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if m.IsMapEntry() {
			continue
		}
		fn(m)
		walkMessages(m.Messages(), fn)
	}
}

// scalarGroups are the scalar kinds that share a wire encoding, so data written as one reads as
// another (Confluent's compatible scalar changes).
var scalarGroups = map[protoreflect.Kind]int{
	protoreflect.Int32Kind: 1, protoreflect.Uint32Kind: 1, protoreflect.Int64Kind: 1, protoreflect.Uint64Kind: 1, protoreflect.BoolKind: 1,
	protoreflect.Sint32Kind: 2, protoreflect.Sint64Kind: 2,
	protoreflect.Fixed32Kind: 3, protoreflect.Sfixed32Kind: 3,
	protoreflect.Fixed64Kind: 4, protoreflect.Sfixed64Kind: 4,
	protoreflect.StringKind: 5, protoreflect.BytesKind: 5,
	protoreflect.FloatKind: 6, protoreflect.DoubleKind: 7,
}

// fieldKindChange names the Confluent difference between two fields with one number, or "".
func fieldKindChange(r, w protoreflect.FieldDescriptor) string {
	if r.IsMap() != w.IsMap() || r.IsList() != w.IsList() {
		return "FIELD_KIND_CHANGED"
	}
	if r.IsMap() {
		if problem := fieldKindChange(r.MapKey(), w.MapKey()); problem != "" {
			return problem
		}
		return fieldKindChange(r.MapValue(), w.MapValue())
	}
	rNamed := r.Kind() == protoreflect.MessageKind || r.Kind() == protoreflect.GroupKind || r.Kind() == protoreflect.EnumKind
	wNamed := w.Kind() == protoreflect.MessageKind || w.Kind() == protoreflect.GroupKind || w.Kind() == protoreflect.EnumKind
	switch {
	case rNamed != wNamed:
		return "FIELD_KIND_CHANGED"
	case rNamed:
		if r.Kind() == protoreflect.EnumKind && w.Kind() == protoreflect.EnumKind {
			if r.Enum().FullName() != w.Enum().FullName() {
				return "FIELD_NAMED_TYPE_CHANGED"
			}
			return ""
		}
		if r.Kind() == protoreflect.EnumKind || w.Kind() == protoreflect.EnumKind {
			return "FIELD_KIND_CHANGED"
		}
		if r.Message().FullName() != w.Message().FullName() {
			return "FIELD_NAMED_TYPE_CHANGED"
		}
	case scalarGroups[r.Kind()] != scalarGroups[w.Kind()]:
		return "FIELD_SCALAR_KIND_CHANGED"
	}
	return ""
}

func describeField(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "a map"
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		return "message " + string(f.Message().FullName())
	case f.Kind() == protoreflect.EnumKind:
		return "enum " + string(f.Enum().FullName())
	}
	return f.Kind().String()
}
