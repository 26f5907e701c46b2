package statestore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"
)

func openLocal(t testing.TB, dir string) *KeyValueStore {
	t.Helper()
	s, err := Open(context.Background(), Options{StateDir: dir, Name: "counts", Partition: 3})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPut(t testing.TB, s *KeyValueStore, k, v string) {
	t.Helper()
	if err := s.Put([]byte(k), []byte(v)); err != nil {
		t.Fatalf("Put(%q): %v", k, err)
	}
}

// collect drains an iterator into "k=v" strings.
func collect(t testing.TB, it Iterator) []string {
	t.Helper()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Close(); err != nil {
		t.Fatalf("iterator: %v", err)
	}
	return out
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestPutGetDeleteRangePrefixRoundTrip(t *testing.T) {
	s := openLocal(t, t.TempDir())
	for _, k := range []string{"apple", "apricot", "banana", "blueberry", "cherry"} {
		mustPut(t, s, k, "v-"+k)
	}
	mustPut(t, s, "empty", "")

	v, ok, err := s.Get([]byte("banana"))
	if err != nil || !ok || string(v) != "v-banana" {
		t.Fatalf("Get(banana) = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := s.Get([]byte("empty")); err != nil || !ok || len(v) != 0 {
		t.Fatalf("Get(empty) = %q, %v, %v; want present and empty", v, ok, err)
	}
	if _, ok, err := s.Get([]byte("durian")); err != nil || ok {
		t.Fatalf("Get(durian) = %v, %v; want absent", ok, err)
	}

	tests := []struct {
		name string
		it   Iterator
		want []string
	}{
		{"range [apricot, cherry)", s.Range([]byte("apricot"), []byte("cherry")),
			[]string{"apricot=v-apricot", "banana=v-banana", "blueberry=v-blueberry"}},
		{"range from nil", s.Range(nil, []byte("apricot")), []string{"apple=v-apple"}},
		{"range to nil", s.Range([]byte("cherry"), nil), []string{"cherry=v-cherry", "empty="}},
		{"prefix ap", s.PrefixScan([]byte("ap")), []string{"apple=v-apple", "apricot=v-apricot"}},
		{"prefix none", s.PrefixScan([]byte("zz")), nil},
	}
	for _, tt := range tests {
		if got := collect(t, tt.it); !equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}

	if err := s.Delete([]byte("banana")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get([]byte("banana")); ok {
		t.Fatal("banana still present after Delete")
	}
	want := []string{"apple=v-apple", "apricot=v-apricot", "blueberry=v-blueberry", "cherry=v-cherry", "empty="}
	if got := collect(t, s.All()); !equal(got, want) {
		t.Fatalf("All = %v, want %v", got, want)
	}
	if n, err := s.ApproximateCount(); err != nil || n != 5 {
		t.Fatalf("ApproximateCount = %d, %v; want 5", n, err)
	}
}

func TestPutDoesNotRetainCallerSlices(t *testing.T) {
	s := openLocal(t, t.TempDir())
	k, v := []byte("key"), []byte("value")
	if err := s.Put(k, v); err != nil {
		t.Fatal(err)
	}
	copy(k, "xxx")
	copy(v, "XXXXX")
	got, ok, _ := s.Get([]byte("key"))
	if !ok || string(got) != "value" {
		t.Fatalf("Get = %q, %v", got, ok)
	}
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	s := openLocal(t, dir)
	for i := range 100 {
		mustPut(t, s, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	before := collect(t, s.All())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Put([]byte("a"), nil); err != ErrClosed {
		t.Fatalf("Put after Close = %v, want ErrClosed", err)
	}
	s2 := openLocal(t, dir)
	if after := collect(t, s2.All()); !equal(before, after) || len(after) != 100 {
		t.Fatalf("after reopen: %d entries, differ from before: %v", len(after), !equal(before, after))
	}
}

func TestIteratorsNeverShowTheCheckpoint(t *testing.T) {
	s := openLocal(t, t.TempDir())
	mustPut(t, s, "a", "1")
	if err := s.writeCheckpoint(41); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, s.All()); !equal(got, []string{"a=1"}) {
		t.Fatalf("All = %v", got)
	}
	if got := collect(t, s.PrefixScan(nil)); !equal(got, []string{"a=1"}) {
		t.Fatalf("PrefixScan(nil) = %v", got)
	}
	if cp, ok := s.Checkpoint(); !ok || cp != 41 {
		t.Fatalf("Checkpoint = %d, %v", cp, ok)
	}
}

func TestTypedStoreRoundTrip(t *testing.T) {
	type profile struct {
		Name  string
		Score float64
	}
	s := openLocal(t, t.TempDir())
	ts := NewTyped[int64, profile](s, Int64{}, JSON[profile]{})
	for i := int64(1); i <= 3; i++ {
		if err := ts.Put(i, profile{Name: fmt.Sprint("p", i), Score: float64(i) / 2}); err != nil {
			t.Fatal(err)
		}
	}
	p, ok, err := ts.Get(2)
	if err != nil || !ok || p != (profile{"p2", 1}) {
		t.Fatalf("Get(2) = %+v, %v, %v", p, ok, err)
	}
	if err := ts.Delete(1); err != nil {
		t.Fatal(err)
	}
	it := ts.Range(0, 10)
	var keys []int64
	for it.Next() {
		keys = append(keys, it.Key())
	}
	if err := it.Close(); err != nil || fmt.Sprint(keys) != "[2 3]" {
		t.Fatalf("Range keys = %v, %v", keys, err)
	}

	// A value that does not decode is an error, not a panic.
	if err := s.Put([]byte("bad"), []byte("{")); err != nil {
		t.Fatal(err)
	}
	bad := NewTyped[string, profile](s, String{}, JSON[profile]{})
	if _, _, err := bad.Get("bad"); err == nil {
		t.Fatal("Get of undecodable value: want error")
	}
}

func TestSerdesRoundTrip(t *testing.T) {
	i64 := []int64{0, 1, -1, math.MaxInt64, math.MinInt64}
	for _, v := range i64 {
		b, _ := Int64{}.Serialize(v)
		if got, err := (Int64{}).Deserialize(b); err != nil || got != v {
			t.Errorf("Int64 %d -> %x -> %d, %v", v, b, got, err)
		}
	}
	if b, _ := (Int64{}).Serialize(258); !bytes.Equal(b, []byte{0, 0, 0, 0, 0, 0, 1, 2}) {
		t.Errorf("Int64(258) = %x, want big-endian", b)
	}
	for _, v := range []float64{0, -1.5, math.Inf(1), math.SmallestNonzeroFloat64} {
		b, _ := Float64{}.Serialize(v)
		if got, err := (Float64{}).Deserialize(b); err != nil || got != v {
			t.Errorf("Float64 %v -> %v, %v", v, got, err)
		}
	}
	if b, _ := (Float64{}).Serialize(1); !bytes.Equal(b, []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("Float64(1) = %x", b)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, make([]byte, 9)} {
		if _, err := (Int64{}).Deserialize(bad); err == nil {
			t.Errorf("Int64.Deserialize(%x): want error", bad)
		}
		if _, err := (Float64{}).Deserialize(bad); err == nil {
			t.Errorf("Float64.Deserialize(%x): want error", bad)
		}
	}
	if s, _ := (String{}).Deserialize([]byte("héllo")); s != "héllo" {
		t.Errorf("String = %q", s)
	}
	in := []byte{1, 2}
	out, _ := Bytes{}.Deserialize(in)
	in[0] = 9
	if out[0] != 1 {
		t.Error("Bytes.Deserialize must copy")
	}
	if _, err := (JSON[map[string]int]{}).Deserialize([]byte("[")); err == nil {
		t.Error("JSON.Deserialize of bad input: want error")
	}
}
