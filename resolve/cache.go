package resolve

import (
	"container/list"
	"sync"
)

// lru is a small least-recently-used cache of results, bounded in entries and in bytes, safe for
// concurrent use.
type lru struct {
	mu       sync.Mutex
	max      int
	maxBytes int
	bytes    int
	order    *list.List // front = most recent; values are *lruEntry
	items    map[string]*list.Element
}

type lruEntry struct {
	key string
	res Result
}

func newLRU(max, maxBytes int) *lru {
	return &lru{max: max, maxBytes: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return Result{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).res, true
}

func (c *lru) put(key string, res Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(res.Data) > c.maxBytes {
		return
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*lruEntry)
		c.bytes += len(res.Data) - len(e.res.Data)
		e.res = res
		c.order.MoveToFront(el)
	} else {
		c.items[key] = c.order.PushFront(&lruEntry{key: key, res: res})
		c.bytes += len(res.Data)
	}
	for c.order.Len() > c.max || c.bytes > c.maxBytes {
		last := c.order.Back()
		e := last.Value.(*lruEntry)
		c.order.Remove(last)
		delete(c.items, e.key)
		c.bytes -= len(e.res.Data)
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
