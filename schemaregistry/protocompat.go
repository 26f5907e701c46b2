package schemaregistry

func (protobufFormat) canRead(reader, writer parsedSchema, readerName, writerName string) []compatIssue {
	return nil
}
