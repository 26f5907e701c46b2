// Command kfakebroker starts franz-go's in-memory kfake cluster (one broker)
// on 127.0.0.1:PORT, prints its address and serves until SIGINT or SIGTERM.
// It is a reference point for scripts/bench.sh: an in-memory Kafka
// implementation that writes nothing to disk.
//
//	go run ./internal/kfakebroker -port 19093 -partitions 6
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9092, "listen port on 127.0.0.1 (0 picks a free one)")
	partitions := flag.Int("partitions", 6, "partitions for auto-created topics and CreateTopics with -1")
	autoCreate := flag.Bool("auto-create-topics", true, "create topics on metadata requests")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here (stopped on SIGINT/SIGTERM)")
	flag.Parse()

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.DefaultNumPartitions(*partitions),
		kfake.ClusterID("kfakebroker"),
	}
	if *autoCreate {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kfakebroker:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "kfakebroker:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfakebroker:", err)
		os.Exit(1)
	}
	for _, a := range c.ListenAddrs() {
		fmt.Println(a)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	c.Close()
}
