//go:build unix

package testcluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// connOwner returns which of pids holds the far end of conn, a connection a proxy accepted on
// 127.0.0.1, or 0 if none does (or the platform cannot tell). It finds the dialling socket in
// /proc/net/tcp by its address pair, then the process holding that socket's inode among its
// descriptors: Linux only, and only for processes of the same user.
//
// NB: this is how the proxies tell a node's own outbound connections (a follower fetching, a
// broker heartbeating to the controller) from the test's clients, so that isolating a node also
// holds the connections it opened to its peers, with no change to the node.
func connOwner(conn net.Conn, pids []int) int {
	remote, ok1 := conn.RemoteAddr().(*net.TCPAddr)
	local, ok2 := conn.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 || len(pids) == 0 {
		return 0
	}
	inode, err := socketInode(remote, local)
	if err != nil || inode == "" {
		return 0
	}
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == want {
				return pid
			}
		}
	}
	return 0
}

// socketInode returns the inode of the IPv4 TCP socket bound to local and connected to remote,
// from /proc/net/tcp.
func socketInode(local, remote *net.TCPAddr) (string, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	wantLocal, wantRemote := procAddr(local), procAddr(remote)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 9 && fields[1] == wantLocal && fields[2] == wantRemote {
			return fields[9], nil
		}
	}
	return "", sc.Err()
}

// procAddr formats an IPv4 address as /proc/net/tcp does: the address as a little-endian hex
// word, a colon, the port in hex ("0100007F:1F90" is 127.0.0.1:8080).
func procAddr(a *net.TCPAddr) string {
	ip := a.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], a.Port)
}
