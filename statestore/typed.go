package statestore

import "fmt"

// Typed is a KeyValueStore seen through a key serde and a value serde. It is as safe for
// concurrent use as the store and the serdes.
type Typed[K, V any] struct {
	Store  *KeyValueStore
	Keys   Serde[K]
	Values Serde[V]
}

// NewTyped wraps store with serdes.
func NewTyped[K, V any](store *KeyValueStore, keys Serde[K], values Serde[V]) *Typed[K, V] {
	return &Typed[K, V]{Store: store, Keys: keys, Values: values}
}

// Get returns the value under key and whether there is one.
func (t *Typed[K, V]) Get(key K) (V, bool, error) {
	var zero V
	k, err := t.Keys.Serialize(key)
	if err != nil {
		return zero, false, fmt.Errorf("statestore %s: serialize key: %w", t.Store.Name(), err)
	}
	b, ok, err := t.Store.Get(k)
	if err != nil || !ok {
		return zero, ok, err
	}
	v, err := t.Values.Deserialize(b)
	if err != nil {
		return zero, false, fmt.Errorf("statestore %s: deserialize value: %w", t.Store.Name(), err)
	}
	return v, true, nil
}

// Put stores value under key.
func (t *Typed[K, V]) Put(key K, value V) error {
	k, err := t.Keys.Serialize(key)
	if err != nil {
		return fmt.Errorf("statestore %s: serialize key: %w", t.Store.Name(), err)
	}
	v, err := t.Values.Serialize(value)
	if err != nil {
		return fmt.Errorf("statestore %s: serialize value: %w", t.Store.Name(), err)
	}
	return t.Store.Put(k, v)
}

// Delete removes key.
func (t *Typed[K, V]) Delete(key K) error {
	k, err := t.Keys.Serialize(key)
	if err != nil {
		return fmt.Errorf("statestore %s: serialize key: %w", t.Store.Name(), err)
	}
	return t.Store.Delete(k)
}

// Range iterates over serialised keys in [from, to).
func (t *Typed[K, V]) Range(from, to K) *TypedIterator[K, V] {
	f, err := t.Keys.Serialize(from)
	if err != nil {
		return &TypedIterator[K, V]{it: &errIterator{err: err}}
	}
	e, err := t.Keys.Serialize(to)
	if err != nil {
		return &TypedIterator[K, V]{it: &errIterator{err: err}}
	}
	return &TypedIterator[K, V]{t: t, it: t.Store.Range(f, e)}
}

// All iterates over every entry in serialised key order.
func (t *Typed[K, V]) All() *TypedIterator[K, V] {
	return &TypedIterator[K, V]{t: t, it: t.Store.All()}
}

// TypedIterator decodes entries of an Iterator. A decoding error stops the iteration and is
// returned by Err and Close.
type TypedIterator[K, V any] struct {
	t     *Typed[K, V]
	it    Iterator
	key   K
	value V
	err   error
}

// Next decodes the next entry and reports whether there is one.
func (i *TypedIterator[K, V]) Next() bool {
	if i.err != nil || !i.it.Next() {
		return false
	}
	i.key, i.err = i.t.Keys.Deserialize(i.it.Key())
	if i.err == nil {
		i.value, i.err = i.t.Values.Deserialize(i.it.Value())
	}
	return i.err == nil
}

// Key is the current key.
func (i *TypedIterator[K, V]) Key() K { return i.key }

// Value is the current value.
func (i *TypedIterator[K, V]) Value() V { return i.value }

// Err is the error that stopped the iteration, if any.
func (i *TypedIterator[K, V]) Err() error {
	if i.err != nil {
		return i.err
	}
	return i.it.Err()
}

// Close releases the iterator and returns Err.
func (i *TypedIterator[K, V]) Close() error {
	err := i.it.Close()
	if i.err != nil {
		return i.err
	}
	return err
}
