package schemaregistry

func (jsonFormat) canRead(reader, writer parsedSchema, readerName, writerName string) []compatIssue {
	return nil
}
