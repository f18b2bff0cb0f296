// Unit tests of the per-resource instance cache, with a hand-driven clock: LRU order, the cap,
// idle reaping, holders never losing their instance, refresh.
import { describe, expect, it } from 'vitest'
import { type CacheClock, ResourceCache } from '../src/resource-cache.js'
import type { ResourceDefinition } from '../src/types.js'

/** A clock whose time moves only through `advance`, running due timers in order. */
class FakeClock implements CacheClock {
  time = 1_000_000
  private nextId = 1
  readonly timers = new Map<number, { ms: number; due: number; fn: () => void }>()

  now = (): number => this.time

  every(ms: number, fn: () => void): unknown {
    const id = this.nextId++
    this.timers.set(id, { ms, due: this.time + ms, fn })
    return id
  }

  cancel(timer: unknown): void {
    this.timers.delete(timer as number)
  }

  advance(ms: number): void {
    const end = this.time + ms
    for (;;) {
      let next: [number, { ms: number; due: number; fn: () => void }] | undefined
      for (const t of this.timers)
        if (t[1].due <= end && (!next || t[1].due < next[1].due)) next = t
      if (next === undefined) break
      this.time = next[1].due
      next[1].due += next[1].ms
      next[1].fn()
    }
    this.time = end
  }
}

interface Db {
  tenant: string
  n: number
}

function setup(def: Partial<ResourceDefinition<Db>> = {}) {
  const clock = new FakeClock()
  const created: string[] = []
  const disposed: string[] = []
  let n = 0
  const cache = new ResourceCache<Db>(
    'db',
    0,
    {
      create: (tenant) => {
        created.push(tenant)
        return { tenant, n: ++n }
      },
      dispose: (db) => {
        disposed.push(`${db.tenant}#${db.n}`)
      },
      ...def,
    },
    () => {},
    clock,
  )
  /** Takes and lets go of a hold: one finished scope of `tenant`. */
  const use = (tenant: string): Db => {
    const e = cache.acquire(tenant)
    cache.release(e)
    return e.value as Db
  }
  const cached = () => [...cache.entries.keys()].sort()
  return { clock, cache, created, disposed, use, cached }
}

describe('ResourceCache', () => {
  it('evicts the least recently used idle instance above the cap, not the oldest created', () => {
    const { use, cached, disposed } = setup({ cap: 2 })
    use('a')
    use('b')
    use('a') // a is now more recent than b
    use('c')
    expect(cached()).toEqual(['a', 'c'])
    expect(disposed).toEqual(['b#2'])
    use('d')
    expect(cached()).toEqual(['c', 'd'])
    expect(disposed).toEqual(['b#2', 'a#1'])
  })

  it('keeps at most `cap` idle instances (cap 0: none), and reuses a cached one', () => {
    const five = setup({ cap: 3 })
    for (const t of ['a', 'b', 'c', 'd', 'e', 'a', 'e']) five.use(t)
    expect(five.cache.entries.size).toBe(3)
    expect(five.created).toEqual(['a', 'b', 'c', 'd', 'e', 'a'])
    const none = setup({ cap: 0 })
    none.use('a')
    none.use('a')
    expect(none.cache.entries.size).toBe(0)
    expect(none.disposed).toEqual(['a#1', 'a#2'])
  })

  it('never evicts an instance that is held, and catches up when it is released', () => {
    const { cache, cached, disposed, use } = setup({ cap: 1 })
    const a = cache.acquire('a')
    const b = cache.acquire('b')
    use('c') // over the cap: only c is idle, and it is the newest
    expect(cached()).toEqual(['a', 'b'])
    expect(disposed).toEqual(['c#3'])
    cache.release(b)
    expect(cached()).toEqual(['a']) // b idle, a held: b goes
    expect(disposed).toEqual(['c#3', 'b#2'])
    expect(a.value?.n).toBe(1)
    cache.release(a)
    expect(cached()).toEqual(['a'])
  })

  it('reaps instances idle for idleTimeoutMs by the clock, measured from their release', () => {
    const { clock, cache, cached, disposed, use } = setup({ idleTimeoutMs: 1000 })
    use('a')
    expect(clock.timers.size).toBe(1) // the reaper, every idle/2
    clock.advance(600)
    use('b')
    const held = cache.acquire('c')
    clock.advance(400) // a idle 1000 ms
    expect(cached()).toEqual(['b', 'c'])
    expect(disposed).toEqual(['a#1'])
    clock.advance(5000) // b long idle; c held all along: never reaped
    expect(cached()).toEqual(['c'])
    cache.release(held)
    clock.advance(999)
    expect(cached()).toEqual(['c'])
    clock.advance(600)
    expect(cached()).toEqual([])
    expect(disposed).toEqual(['a#1', 'b#2', 'c#3'])
    expect(clock.timers.size).toBe(0) // the reaper stops when nothing is left
    use('d')
    expect(clock.timers.size).toBe(1)
  })

  it('does not read the clock on release without idleTimeoutMs', () => {
    const { clock, use } = setup()
    let reads = 0
    clock.now = () => ++reads
    use('a')
    use('a')
    expect(reads).toBe(0)
    expect(clock.timers.size).toBe(0)
  })

  it('refresh: an idle instance goes now, a held one when released; the next acquire builds anew', async () => {
    const { cache, disposed, use } = setup()
    use('a')
    const idle = cache.refresh('a')!
    expect(disposed).toEqual(['a#1'])
    await cache.whenGone(idle)
    const held = cache.acquire('b')
    const stale = cache.refresh('b')!
    expect(stale).toBe(held)
    expect(cache.entries.has('b')).toBe(false)
    let gone = false
    void cache.whenGone(stale).then(() => {
      gone = true
    })
    const fresh = cache.acquire('b') // a new instance beside the held stale one
    expect(fresh.value?.n).toBe(3)
    expect(held.value?.n).toBe(2)
    await Promise.resolve()
    expect(gone).toBe(false)
    cache.release(held)
    await Promise.resolve()
    expect(gone).toBe(true)
    expect(disposed).toEqual(['a#1', 'b#2'])
    cache.release(fresh)
    expect(cache.refresh('nobody')).toBeUndefined()
  })

  it('does not evict an instance still being created, and forgets one whose creation failed', async () => {
    let fail = false
    const resolvers: ((db: Db) => void)[] = []
    const { cache, cached, disposed } = setup({
      cap: 1,
      create: (tenant) =>
        fail
          ? Promise.reject(new Error(`no ${tenant}`))
          : new Promise<Db>((resolve) => resolvers.push(resolve)),
    })
    const a = cache.acquire('a')
    cache.release(a) // idle, still pending
    const b = cache.acquire('b')
    cache.release(b)
    expect(cached()).toEqual(['a', 'b']) // neither can be evicted yet
    resolvers[0]!({ tenant: 'a', n: 1 })
    resolvers[1]!({ tenant: 'b', n: 2 })
    await Promise.all([a.pending, b.pending])
    cache.release(cache.acquire('b'))
    expect(cached()).toEqual(['b'])
    expect(disposed).toEqual(['a#1'])
    fail = true
    const c = cache.acquire('c')
    await expect(c.pending).rejects.toThrow('no c')
    expect(cache.entries.has('c')).toBe(false)
    await cache.whenGone(c) // resolves: nothing left to dispose
  })

  it('clear() disposes every instance exactly once, held ones included', () => {
    const { cache, disposed, use } = setup()
    use('a')
    const held = cache.acquire('b')
    cache.clear()
    expect(disposed.sort()).toEqual(['a#1', 'b#2'])
    cache.release(held)
    cache.clear()
    expect(disposed).toHaveLength(2)
  })
})
