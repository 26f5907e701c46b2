package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
)

const defaultRegistryURL = "http://127.0.0.1:8081"

const schemasUsage = `Usage: gregor schemas <subcommand> [flags]

Subcommands:
  list      [--prefix P] [--deleted]
  get       --subject S [--version N|latest] | --id ID
  register  --subject S (--schema-file F | --schema TEXT) [--type AVRO|PROTOBUF|JSON]
  check     --subject S (--schema-file F | --schema TEXT) [--type T] [--version N|latest|all]
  delete    --subject S [--version N] [--permanent]
  config    [--subject S] [--set LEVEL]

All take --schema-registry-url (-r; --registry-url is the same), default ` + defaultRegistryURL + `:
any Confluent-compatible Schema Registry. Run 'gregor schemas <subcommand> -h' for details.
`

// runSchemas is `gregor schemas <subcommand>`: a Schema Registry client over its REST API.
func runSchemas(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "schemas", schemasUsage, map[string]subcommand{
		"list":     runSchemasList,
		"get":      runSchemasGet,
		"register": runSchemasRegister,
		"check":    runSchemasCheck,
		"delete":   runSchemasDelete,
		"config":   runSchemasConfig,
	}, args, stdout, stderr)
}

// addRegistryFlag registers --schema-registry-url (the name produce and consume use, after
// Confluent's schema.registry.url), its short form -r and its older name --registry-url.
func addRegistryFlag(fs *flagSet) *string {
	var url string
	fs.StringVar(&url, "schema-registry-url", defaultRegistryURL, "comma-separated Schema Registry `URLs`")
	fs.StringVar(&url, "r", defaultRegistryURL, "short for --schema-registry-url")
	fs.StringVar(&url, "registry-url", defaultRegistryURL, "the same as --schema-registry-url")
	return &url
}

func newRegistryClient(urls string) (*sr.Client, error) {
	var list []string
	for _, u := range strings.Split(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			list = append(list, u)
		}
	}
	if len(list) == 0 {
		return nil, usageErrorf("--schema-registry-url is empty")
	}
	return sr.NewClient(sr.URLs(list...))
}

// parseSchemaFlags parses a subcommand's flags and builds its registry client.
func parseSchemaFlags(fs *flagSet, url *string, args []string, stdout, stderr io.Writer) (*sr.Client, error) {
	positional, err := parseFlags(fs, args, stdout, stderr)
	if err != nil {
		return nil, err
	}
	if err := noPositional(positional); err != nil {
		return nil, err
	}
	return newRegistryClient(*url)
}

// parseVersion reads N, "latest" (-1) or, where allowed, "all" (-2).
func parseSchemaVersion(s string, allowAll bool) (int, error) {
	switch strings.ToLower(s) {
	case "", "latest":
		return -1, nil
	case "all":
		if allowAll {
			return -2, nil
		}
	default:
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, usageErrorf("--version %q: want a positive number or latest", s)
}

// schemaInput reads --schema or --schema-file and --type into a schema.
func schemaInput(text, file, typ string) (sr.Schema, error) {
	switch {
	case text != "" && file != "":
		return sr.Schema{}, usageErrorf("give --schema or --schema-file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return sr.Schema{}, err
		}
		text = string(b)
	case text == "":
		return sr.Schema{}, usageErrorf("--schema or --schema-file is required")
	}
	var t sr.SchemaType
	if err := t.UnmarshalText([]byte(strings.ToUpper(typ))); err != nil {
		return sr.Schema{}, usageErrorf("--type %q: want AVRO, PROTOBUF or JSON", typ)
	}
	return sr.Schema{Schema: text, Type: t}, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runSchemasList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schemas list", "gregor schemas list [--prefix P] [--deleted]")
	url := addRegistryFlag(fs)
	prefix := fs.String("prefix", "", "only subjects starting with `P`")
	deleted := fs.Bool("deleted", false, "include soft-deleted subjects")
	cl, err := parseSchemaFlags(fs, url, args, stdout, stderr)
	if err != nil {
		return err
	}
	var params []sr.Param
	if *prefix != "" {
		params = append(params, sr.SubjectPrefix(*prefix))
	}
	if *deleted {
		params = append(params, sr.ShowDeleted)
	}
	subjects, err := cl.Subjects(sr.WithParams(ctx, params...))
	if err != nil {
		return fmt.Errorf("listing subjects: %w", err)
	}
	for _, s := range subjects {
		fmt.Fprintln(stdout, s)
	}
	return nil
}

func runSchemasGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schemas get", "gregor schemas get --subject S [--version N|latest] | --id ID")
	url := addRegistryFlag(fs)
	subject := fs.String("subject", "", "the subject")
	version := fs.String("version", "latest", "the subject's version: `N` or latest")
	id := fs.Int("id", 0, "a schema `ID` (instead of --subject)")
	cl, err := parseSchemaFlags(fs, url, args, stdout, stderr)
	if err != nil {
		return err
	}
	switch {
	case *id > 0 && *subject != "":
		return usageErrorf("give --subject or --id, not both")
	case *id > 0:
		s, err := cl.SchemaByID(ctx, *id)
		if err != nil {
			return fmt.Errorf("schema %d: %w", *id, err)
		}
		return printJSON(stdout, s)
	case *subject == "":
		return usageErrorf("--subject or --id is required")
	}
	v, err := parseSchemaVersion(*version, false)
	if err != nil {
		return err
	}
	s, err := cl.SchemaByVersion(ctx, *subject, v)
	if err != nil {
		return fmt.Errorf("subject %q version %s: %w", *subject, *version, err)
	}
	return printJSON(stdout, s)
}

func runSchemasRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schemas register", "gregor schemas register --subject S (--schema-file F | --schema TEXT) [--type AVRO|PROTOBUF|JSON]")
	url := addRegistryFlag(fs)
	in := addSchemaInputFlags(fs, "the subject to register under")
	cl, err := parseSchemaFlags(fs, url, args, stdout, stderr)
	if err != nil {
		return err
	}
	subject, s, err := in.read()
	if err != nil {
		return err
	}
	ss, err := cl.CreateSchema(ctx, subject, s)
	if err != nil {
		return fmt.Errorf("registering under %q: %w", subject, err)
	}
	fmt.Fprintf(stdout, "subject %s version %d id %d\n", ss.Subject, ss.Version, ss.ID)
	return nil
}

// schemaInputFlags are the flags naming a subject and a schema (register, check).
type schemaInputFlags struct{ subject, text, file, typ *string }

func addSchemaInputFlags(fs *flagSet, subjectUsage string) schemaInputFlags {
	return schemaInputFlags{
		subject: fs.String("subject", "", subjectUsage),
		text:    fs.String("schema", "", "the schema `text`"),
		file:    fs.String("schema-file", "", "a `file` holding the schema"),
		typ:     fs.String("type", "AVRO", "the schema type: AVRO, PROTOBUF or JSON"),
	}
}

// read checks that a subject is given and reads the schema.
func (f schemaInputFlags) read() (string, sr.Schema, error) {
	if *f.subject == "" {
		return "", sr.Schema{}, usageErrorf("--subject is required")
	}
	s, err := schemaInput(*f.text, *f.file, *f.typ)
	return *f.subject, s, err
}

// errIncompatible makes `schemas check` exit 1 on an incompatible schema.
var errIncompatible = errors.New("the schema is not compatible")

func runSchemasCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schemas check", "gregor schemas check --subject S (--schema-file F | --schema TEXT) [--type T] [--version N|latest|all]")
	url := addRegistryFlag(fs)
	in := addSchemaInputFlags(fs, "the subject to check against")
	version := fs.String("version", "latest", "the version to check against: `N`, latest or all")
	cl, err := parseSchemaFlags(fs, url, args, stdout, stderr)
	if err != nil {
		return err
	}
	subject, s, err := in.read()
	if err != nil {
		return err
	}
	v, err := parseSchemaVersion(*version, true)
	if err != nil {
		return err
	}
	res, err := cl.CheckCompatibility(sr.WithParams(ctx, sr.Verbose), subject, v, s)
	if err != nil {
		return fmt.Errorf("checking against %q: %w", subject, err)
	}
	if res.Is {
		fmt.Fprintln(stdout, "compatible")
		return nil
	}
	fmt.Fprintln(stdout, "incompatible")
	for _, m := range res.Messages {
		fmt.Fprintln(stdout, "  "+m)
	}
	return errIncompatible
}

func runSchemasDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schemas delete", "gregor schemas delete --subject S [--version N] [--permanent]")
	url := addRegistryFlag(fs)
	subject := fs.String("subject", "", "the subject")
	version := fs.String("version", "", "delete only version `N` (or latest); default: the whole subject")
	permanent := fs.Bool("permanent", false, "delete permanently (after a soft delete), as ?permanent=true")
	cl, err := parseSchemaFlags(fs, url, args, stdout, stderr)
	if err != nil {
		return err
	}
	if *subject == "" {
		return usageErrorf("--subject is required")
	}
	how := sr.SoftDelete
	if *permanent {
		how = sr.HardDelete
	}
	if *version == "" {
		versions, err := cl.DeleteSubject(ctx, *subject, how)
		if err != nil {
			return fmt.Errorf("deleting subject %q: %w", *subject, err)
		}
		fmt.Fprintf(stdout, "deleted subject %s versions %v\n", *subject, versions)
		return nil
	}
	v, err := parseSchemaVersion(*version, false)
	if err != nil {
		return err
	}
	if err := cl.DeleteSchema(ctx, *subject, v, how); err != nil {
		return fmt.Errorf("deleting subject %q version %s: %w", *subject, *version, err)
	}
	fmt.Fprintf(stdout, "deleted subject %s version %s\n", *subject, *version)
	return nil
}

func runSchemasConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schemas config", "gregor schemas config [--subject S] [--set LEVEL]")
	url := addRegistryFlag(fs)
	subject := fs.String("subject", "", "the subject (default: the global config)")
	set := fs.String("set", "", "set the compatibility `LEVEL`: BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE")
	cl, err := parseSchemaFlags(fs, url, args, stdout, stderr)
	if err != nil {
		return err
	}
	var results []sr.CompatibilityResult
	if *set != "" {
		var level sr.CompatibilityLevel
		if err := level.UnmarshalText([]byte(strings.ToUpper(*set))); err != nil {
			return usageErrorf("--set %q: not a compatibility level", *set)
		}
		results = cl.SetCompatibility(ctx, sr.SetCompatibility{Level: level}, *subject)
	} else {
		ctx = sr.WithParams(ctx, sr.DefaultToGlobal)
		results = cl.Compatibility(ctx, *subject)
	}
	for _, r := range results {
		if r.Err != nil {
			return fmt.Errorf("config of %s: %w", subjectLabel(r.Subject), r.Err)
		}
		fmt.Fprintf(stdout, "%s compatibility %s\n", subjectLabel(r.Subject), r.Level)
	}
	return nil
}

func subjectLabel(s string) string {
	if s == "" {
		return "global"
	}
	return "subject " + s
}
