package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gregor-streams/gregor/broker/server"
)

// api is one API key the broker serves: the version range ApiVersions advertises — exactly what
// its handler implements — and the handler.
type api struct {
	min, max int16
	serve    func(b *Broker, c *server.Conn, req kmsg.Request) server.Response
}

// apis holds every API key served. Each is registered by the file that handles it (one file per
// API or family, as franz-go's kfake), its version range beside its handler. Floors are the
// oldest versions common clients still send (librdkafka: Produce 3, Fetch 4; kafka-go: Metadata
// 1; kafkajs: ApiVersions 0).
var apis = map[int16]api{}

// register serves API key at versions [min, max] with serve (called from init functions only).
func register[R kmsg.Request](key, min, max int16, serve func(b *Broker, c *server.Conn, r R) server.Response) {
	apis[key] = api{min: min, max: max, serve: func(b *Broker, c *server.Conn, req kmsg.Request) server.Response {
		r, ok := req.(R)
		if !ok {
			return server.Response{Close: true} // the server decoded another type for this key
		}
		return serve(b, c, r)
	}}
}

// SupportedVersions returns the advertised range for an API key (ok=false if not implemented).
func SupportedVersions(key int16) (min, max int16, ok bool) {
	a, ok := apis[key]
	return a.min, a.max, ok
}

// Supported implements server.Handler.
func (b *Broker) Supported(key, version int16) bool {
	a, ok := apis[key]
	return ok && version >= a.min && version <= a.max
}

// Handle implements server.Handler.
func (b *Broker) Handle(c *server.Conn, req kmsg.Request) server.Response {
	if a, ok := apis[req.Key()]; ok {
		return a.serve(b, c, req)
	}
	// Supported() keeps anything else from reaching here.
	return server.Response{Close: true}
}

func init() {
	// ApiVersions v0-4.
	register(18, 0, 4, func(b *Broker, _ *server.Conn, r *kmsg.ApiVersionsRequest) server.Response {
		return server.Response{Msg: b.handleApiVersions(r)}
	})
}

func (b *Broker) handleApiVersions(r *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	for _, key := range sortedKeys() {
		a := apis[key]
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, a.min, a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func sortedKeys() []int16 {
	keys := make([]int16, 0, len(apis))
	for k := range apis {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errMsg returns a pointer to msg for kmsg's nullable error-message fields.
func errMsg(msg string) *string {
	if msg == "" {
		return nil
	}
	return &msg
}

// APIKeys lists the implemented API keys in order.
func APIKeys() []int16 { return sortedKeys() }
