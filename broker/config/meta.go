//lint:file-ignore ST1005 Kafka's messages for meta.properties, verbatim: users and tools match them

package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MetaPropertiesFile is the name of Kafka's per-log-dir identity file, written by `gregor storage
// format` (kafka-storage.sh format).
const MetaPropertiesFile = "meta.properties"

// ErrNotFormatted is returned by CheckFormatted for a log dir without meta.properties.
var ErrNotFormatted = errors.New("config: log dir not formatted")

// MetaProperties is the content of meta.properties, version 1 (KRaft): the cluster and node a log
// dir belongs to.
type MetaProperties struct {
	ClusterID string
	NodeID    int32
}

// RandomClusterID returns a new cluster ID as Kafka's Uuid.randomUuid prints it: 16 random bytes in
// URL-safe base64 without padding. Like Kafka, it never starts with '-', so it cannot be taken for a
// command-line flag.
func RandomClusterID() string {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // NB: crypto/rand never fails on supported platforms
		}
		if s := base64.RawURLEncoding.EncodeToString(b[:]); s[0] != '-' {
			return s
		}
	}
}

// ValidateClusterID checks that id is a Kafka Uuid string: 16 bytes in URL-safe base64 without padding.
func ValidateClusterID(id string) error {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != 16 {
		return fmt.Errorf("Cluster ID string %s does not appear to be a valid UUID: expected 22 characters of URL-safe base64 (16 bytes), as `gregor storage random-uuid` prints", id)
	}
	return nil
}

// WriteMetaProperties writes dir/meta.properties (creating dir) through a temporary file and a
// rename, so a crash leaves either the old file or the new one.
func WriteMetaProperties(dir string, m MetaProperties) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	body := fmt.Sprintf("#\n#%s\nnode.id=%d\nversion=1\ncluster.id=%s\n",
		time.Now().UTC().Format("Mon Jan 02 15:04:05 MST 2006"), m.NodeID, m.ClusterID)
	path := filepath.Join(dir, MetaPropertiesFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadMetaProperties reads dir/meta.properties. A missing file is an error wrapping os.ErrNotExist.
func ReadMetaProperties(dir string) (MetaProperties, error) {
	path := filepath.Join(dir, MetaPropertiesFile)
	f, err := os.Open(path)
	if err != nil {
		return MetaProperties{}, err
	}
	defer f.Close()
	props, err := ReadProperties(f)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("%s: %w", path, err)
	}
	if v := props["version"]; v != "1" {
		return MetaProperties{}, fmt.Errorf("%s: version %q: only version 1 (KRaft) is supported", path, v)
	}
	m := MetaProperties{ClusterID: props["cluster.id"]}
	if m.ClusterID == "" {
		return MetaProperties{}, fmt.Errorf("%s: no cluster.id", path)
	}
	id, err := strconv.ParseInt(props["node.id"], 10, 32)
	if err != nil {
		return MetaProperties{}, fmt.Errorf("%s: node.id %q is not an integer", path, props["node.id"])
	}
	m.NodeID = int32(id)
	return m, nil
}

// StorageDirs returns every directory `gregor storage format` writes meta.properties to: log.dirs and
// metadata.log.dir, without repeats.
func (b *Broker) StorageDirs() []string {
	dirs := append([]string(nil), b.LogDirs...)
	if md := b.MetadataDir(); md != "" && !slices.Contains(dirs, md) {
		dirs = append(dirs, md)
	}
	return dirs
}

// CheckFormatted checks the storage directories of a KRaft node: each has a meta.properties naming
// this node.id, all with one cluster.id, which it returns. It returns "" and no error for a node that
// need not be formatted: a single combined node whose dirs carry no meta.properties yet (the
// implicit single node, and Kafka's sample single-node server.properties), which the broker formats
// itself (see FormatMissing). A multi-node config on an unformatted dir is refused with ErrNotFormatted, naming the
// command that formats it.
func (b *Broker) CheckFormatted() (string, error) {
	clusterID := ""
	var missing []string
	for _, d := range b.StorageDirs() {
		m, err := ReadMetaProperties(d)
		if errors.Is(err, os.ErrNotExist) {
			missing = append(missing, d)
			continue
		}
		if err != nil {
			return "", err
		}
		if m.NodeID != b.NodeID {
			return "", fmt.Errorf("Stored node id %d doesn't match previous node id %d in %s. If you moved your data, make sure your configured node id matches. If you intend to create a new node, you should remove all data in your data directories.",
				m.NodeID, b.NodeID, filepath.Join(d, MetaPropertiesFile))
		}
		if clusterID != "" && m.ClusterID != clusterID {
			return "", fmt.Errorf("Invalid cluster.id in: %s. Expected %s, but read %s", filepath.Join(d, MetaPropertiesFile), clusterID, m.ClusterID)
		}
		clusterID = m.ClusterID
	}
	// NB: the implicit single node formats its own dirs (the broker writes the missing
	// meta.properties), a log dir added later included.
	if len(missing) > 0 && (b.KRaft.MultiNode() || clusterID != "") && !b.KRaft.Implicit {
		return "", fmt.Errorf("%w: no %s in %s: format the storage of every node first with `gregor storage format --cluster-id <id> --config <server.properties>` (one id for the whole cluster, from `gregor storage random-uuid`)",
			ErrNotFormatted, MetaPropertiesFile, strings.Join(missing, ", "))
	}
	return clusterID, nil
}

// FormatMissing writes meta.properties with clusterID and this node.id to every storage dir that has
// none, and returns the dirs it formatted. It is for a single combined node, which formats itself on
// first start; a node of several is formatted with `gregor storage format`.
func (b *Broker) FormatMissing(clusterID string) ([]string, error) {
	var formatted []string
	for _, d := range b.StorageDirs() {
		_, err := ReadMetaProperties(d)
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return formatted, err
		}
		if err := WriteMetaProperties(d, MetaProperties{ClusterID: clusterID, NodeID: b.NodeID}); err != nil {
			return formatted, fmt.Errorf("format %s: %w", d, err)
		}
		formatted = append(formatted, d)
	}
	return formatted, nil
}
