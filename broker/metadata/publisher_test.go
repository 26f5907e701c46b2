package metadata

import "testing"

func TestPublisherDeliversEveryImageInOrderFromSubscription(t *testing.T) {
	p := NewPublisher(Empty())
	var seen []int64
	cur, cancel := p.Subscribe("test", func(u Update) { seen = append(seen, u.Image.Offset()) })
	if cur.Offset() != -1 {
		t.Fatalf("current at subscribe: %d", cur.Offset())
	}
	d := NewDelta(Empty())
	for off := int64(0); off < 3; off++ {
		if err := d.Replay(&NoOpRecord{}); err != nil {
			t.Fatal(err)
		}
		img, ch := d.Apply(off, 1)
		p.Publish(img, ch)
		if p.Current() != img {
			t.Fatal("Current is not the published image")
		}
	}
	cancel()
	cancel()
	img, ch := d.Apply(3, 1)
	p.Publish(img, ch)
	if len(seen) != 3 || seen[0] != 0 || seen[2] != 2 {
		t.Fatalf("seen %v, want [0 1 2] (nothing after cancel)", seen)
	}
}
