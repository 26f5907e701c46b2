//lint:file-ignore ST1005 Kafka's messages for controller.quorum.voters, verbatim: users and tools match them

package quorum

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// VotersConfig is Kafka's name for the static voter set.
const VotersConfig = "controller.quorum.voters"

// Voter is one member of the static voter set: a controller's node.id and the address of its
// controller listener.
type Voter struct {
	ID   int32
	Host string
	Port int
}

// Addr is host:port (IPv6 hosts in brackets).
func (v Voter) Addr() string { return net.JoinHostPort(v.Host, strconv.Itoa(v.Port)) }

// hostPort is Kafka's Utils.HOST_PORT_PATTERN in spirit: an optional bracketed host and a numeric port
// after the last colon.
var hostPort = regexp.MustCompile(`^\[?([0-9a-zA-Z\-%._:]*)\]?:([0-9]+)$`)

// validHost is Kafka's Utils.validHostPattern: letters, digits, dots, dashes, and colons for IPv6.
var validHost = regexp.MustCompile(`^[a-zA-Z0-9\-.:%_]+$`)

// ParseVoters parses controller.quorum.voters (`1@host:port,2@host:port,3@host:port`) with Kafka's
// error messages. Entries are returned sorted by node ID. A node ID appearing twice is refused
// (Kafka silently keeps the last one; two addresses for one voter is always a typo).
func ParseVoters(value string) ([]Voter, error) {
	var voters []Voter
	seen := map[int32]bool{}
	for _, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		idAndAddress := strings.Split(entry, "@")
		if len(idAndAddress) != 2 {
			return nil, fmt.Errorf("Invalid configuration value for %s. Each entry should be in the form `{id}@{host}:{port}`.", VotersConfig)
		}
		id, err := strconv.ParseInt(idAndAddress[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("Failed to parse voter ID as an integer from %s", idAndAddress[0])
		}
		if id < 0 {
			return nil, fmt.Errorf("Invalid voter ID %d in entry %s for the configuration %s: a node.id is not negative", id, entry, VotersConfig)
		}
		m := hostPort.FindStringSubmatch(idAndAddress[1])
		if m == nil || m[1] == "" || !validHost.MatchString(m[1]) {
			return nil, fmt.Errorf("Failed to parse host name from entry %s for the configuration %s. Each entry should be in the form `{id}@{host}:{port}`.", entry, VotersConfig)
		}
		port, err := strconv.Atoi(m[2])
		if err != nil || port > 65535 {
			return nil, fmt.Errorf("Failed to parse host port from entry %s for the configuration %s. Each entry should be in the form `{id}@{host}:{port}`.", entry, VotersConfig)
		}
		if m[1] == "0.0.0.0" {
			return nil, fmt.Errorf("Host string (%s) is not routeable", m[1])
		}
		if seen[int32(id)] {
			return nil, fmt.Errorf("Duplicate voter ID %d in entry %s for the configuration %s", id, entry, VotersConfig)
		}
		seen[int32(id)] = true
		voters = append(voters, Voter{ID: int32(id), Host: m[1], Port: port})
	}
	if len(voters) == 0 {
		return nil, fmt.Errorf("Invalid value %q for configuration %s: non-empty list", value, VotersConfig)
	}
	sort.Slice(voters, func(i, j int) bool { return voters[i].ID < voters[j].ID })
	return voters, nil
}

// FormatVoters is the inverse of ParseVoters.
func FormatVoters(voters []Voter) string {
	parts := make([]string, len(voters))
	for i, v := range voters {
		parts[i] = fmt.Sprintf("%d@%s", v.ID, v.Addr())
	}
	return strings.Join(parts, ",")
}

// NB: etcd raft reserves ID 0 for "no node", while Kafka's node.id starts at 0. Raft IDs are
// node.id+1 everywhere inside this package; the API speaks node.id only.
func raftID(nodeID int32) uint64 { return uint64(nodeID) + 1 }
func nodeID(raftID uint64) int32 {
	if raftID == 0 {
		return NoLeader
	}
	return int32(raftID - 1)
}
