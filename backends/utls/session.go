package utls

import (
	"container/list"
	stdtls "crypto/tls"
	"reflect"
	"sync"

	tls "github.com/refraction-networking/utls"
)

// maxCaches bounds how many guests' session caches a Provider tracks. The
// least recently used is dropped first; its guest just resumes no more.
const maxCaches = 1024

// sessionsPerCache is the capacity of each guest's uTLS session cache.
const sessionsPerCache = 64

// cacheMap gives each crypto/tls ClientSessionCache (the host keeps one per
// guest) its own uTLS ClientSessionCache: uTLS sessions have a different
// type and cannot be stored in the host's cache, but keying ours by it keeps
// the host's isolation between guests.
type cacheMap struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recently used first
	byKey map[stdtls.ClientSessionCache]*list.Element
}

type cacheEntry struct {
	key stdtls.ClientSessionCache
	c   tls.ClientSessionCache
}

func newCacheMap(n int) *cacheMap {
	return &cacheMap{max: n, order: list.New(), byKey: map[stdtls.ClientSessionCache]*list.Element{}}
}

// get returns the uTLS cache paired with key, making one if needed. It
// returns nil (no resumption) for a nil key or one that cannot be a map key.
func (m *cacheMap) get(key stdtls.ClientSessionCache) tls.ClientSessionCache {
	if key == nil || !reflect.TypeOf(key).Comparable() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[key]; ok {
		m.order.MoveToFront(el)
		return el.Value.(*cacheEntry).c
	}
	e := &cacheEntry{key: key, c: tls.NewLRUClientSessionCache(sessionsPerCache)}
	m.byKey[key] = m.order.PushFront(e)
	for m.order.Len() > m.max {
		last := m.order.Back()
		m.order.Remove(last)
		delete(m.byKey, last.Value.(*cacheEntry).key)
	}
	return e.c
}

func (m *cacheMap) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
