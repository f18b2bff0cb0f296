import { isThenable, noop } from './internal.js'
import type { ResourceDefinition } from './types.js'

/** Time and timers as the cache sees them: injectable so tests can move time by hand. */
export interface CacheClock {
  /** Milliseconds, like `Date.now()`. */
  now(): number
  /** Starts a repeating timer (unref'd: it must not keep the process alive). */
  every(ms: number, fn: () => void): unknown
  /** Stops a timer made by {@link every}. */
  cancel(timer: unknown): void
}

/** The real clock: `Date.now()` and an unref'd `setInterval`. */
export const systemClock: CacheClock = {
  now: Date.now,
  every(ms, fn) {
    const timer = setInterval(fn, ms)
    timer.unref()
    return timer
  },
  cancel(timer) {
    clearInterval(timer as NodeJS.Timeout)
  },
}

/** One cached per-tenant instance. `refs` counts the tenant scopes that hold it. */
export interface Entry<T> {
  readonly tenant: string
  readonly cache: ResourceCache<T>
  /** Value of the cache's use counter at the last acquire: the LRU order. */
  touched: number
  value: T | undefined
  pending: Promise<T> | null
  refs: number
  lastUsed: number
  /** Removed from the cache (refresh, destroy); disposed once the last holder lets go. */
  stale: boolean
  disposed: boolean
  waiters: (() => void)[]
}

/**
 * The per-resource, per-tenant instance cache: creates once (also under concurrent first
 * access), counts holders, evicts the least recently used *idle* instance above `cap`, and
 * disposes every instance exactly once.
 */
export class ResourceCache<T> {
  readonly entries = new Map<string, Entry<T>>()
  private reaper: unknown
  /** Counts acquires: an entry's `touched` is this counter's value at its last acquire. */
  private uses = 0

  constructor(
    readonly name: string,
    /** Index of this resource in a scope's instance array. */
    readonly slot: number,
    readonly def: ResourceDefinition<T>,
    private readonly track: (p: Promise<void>) => void,
    private readonly clock: CacheClock = systemClock,
  ) {}

  get cap(): number {
    return this.def.cap ?? 50
  }

  /**
   * Takes a hold on the tenant's instance, creating it if needed. A `transient` instance (made
   * for a scope that predates a refresh, from data that may be stale) is never cached: it is
   * disposed when its holder lets go.
   */
  acquire(tenant: string, transient = false): Entry<T> {
    let e = this.entries.get(tenant)
    if (e !== undefined) {
      // A counter, not Map re-insertion: the warm path stays a lookup and two writes; the
      // (rare) eviction pays for the scan instead.
      e.touched = ++this.uses
      e.refs++
      return e
    }
    e = {
      tenant,
      cache: this,
      touched: ++this.uses,
      value: undefined,
      pending: null,
      refs: 1,
      lastUsed: 0,
      stale: false,
      disposed: false,
      waiters: [],
    }
    const created = this.def.create!(tenant) // throws synchronously: nothing was cached
    if (isThenable<T>(created)) {
      const entry = e
      entry.pending = Promise.resolve(created).then(
        (value) => {
          entry.value = value
          entry.pending = null
          if (entry.stale && entry.refs === 0) this.dispose(entry)
          return value
        },
        (error: unknown) => {
          if (this.entries.get(tenant) === entry) this.entries.delete(tenant)
          entry.disposed = true
          entry.pending = null
          this.wake(entry)
          throw error
        },
      )
      // Waiters that give up on a failed creation must not leave an unhandled rejection here.
      entry.pending.catch(noop)
    } else {
      e.value = created
    }
    if (transient) {
      e.stale = true
      return e
    }
    this.entries.set(tenant, e)
    this.evict()
    this.startReaper()
    return e
  }

  /**
   * Takes a hold on the tenant's cached, ready instance; `undefined` (and no side effect) when
   * it is not cached or still being created. Never calls the factory, so the warm path of a
   * scope entry can run it before entering the tenant's frame.
   */
  warm(tenant: string): Entry<T> | undefined {
    const e = this.entries.get(tenant)
    if (e === undefined || e.pending !== null) return undefined
    e.touched = ++this.uses
    e.refs++
    return e
  }

  /** Lets go of a hold taken by {@link acquire} or {@link warm}. */
  release(e: Entry<T>): void {
    e.refs--
    if (e.refs > 0) return
    // Date.now() is a measurable share of a warm withTenant: only pay for it when reaping.
    if (this.def.idleTimeoutMs !== undefined) e.lastUsed = this.clock.now()
    if (e.stale) {
      if (e.pending === null) this.dispose(e)
    } else if (this.entries.size > this.cap) {
      this.evict()
    }
  }

  /** Drops the tenant's instance from the cache; disposes it now if idle, else when released. */
  refresh(tenant: string): Entry<T> | undefined {
    const e = this.entries.get(tenant)
    if (e === undefined) return undefined
    this.entries.delete(tenant)
    e.stale = true
    if (e.refs === 0 && e.pending === null) this.dispose(e)
    return e
  }

  /** Resolves once `e` has been disposed (or its creation failed). */
  whenGone(e: Entry<T>): Promise<void> {
    if (e.disposed) return Promise.resolve()
    return new Promise((resolve) => e.waiters.push(resolve))
  }

  /** Disposes every instance, idle or not (shutdown). */
  clear(): void {
    for (const e of [...this.entries.values()]) {
      this.entries.delete(e.tenant)
      e.stale = true
      if (e.pending === null) this.dispose(e)
    }
    this.stopReaper()
  }

  private evict(): void {
    while (this.entries.size > this.cap) {
      let oldest: Entry<T> | undefined
      for (const e of this.entries.values()) {
        if (
          e.refs === 0 &&
          e.pending === null &&
          (oldest === undefined || e.touched < oldest.touched)
        )
          oldest = e
      }
      if (oldest === undefined) return // every instance is in use: stay over the cap for now
      this.entries.delete(oldest.tenant)
      oldest.stale = true
      this.dispose(oldest)
    }
  }

  private dispose(e: Entry<T>): void {
    if (e.disposed) return
    e.disposed = true
    const dispose = this.def.dispose
    if (dispose !== undefined && e.value !== undefined) {
      let result: void | Promise<void>
      try {
        result = dispose(e.value, e.tenant)
      } catch (error) {
        result = Promise.reject(error)
      }
      if (isThenable<void>(result)) {
        this.track(Promise.resolve(result).finally(() => this.wake(e)))
        return
      }
    }
    this.wake(e)
  }

  private wake(e: Entry<T>): void {
    const waiters = e.waiters
    e.waiters = []
    for (const w of waiters) w()
  }

  private startReaper(): void {
    const idle = this.def.idleTimeoutMs
    if (idle === undefined || this.reaper !== undefined) return
    this.reaper = this.clock.every(Math.max(10, Math.floor(idle / 2)), () => this.reap(idle))
  }

  private stopReaper(): void {
    if (this.reaper !== undefined) this.clock.cancel(this.reaper)
    this.reaper = undefined
  }

  /** Disposes instances idle for longer than `idle` ms. */
  reap(idle: number, now = this.clock.now()): void {
    for (const e of [...this.entries.values()]) {
      if (e.refs === 0 && e.pending === null && now - e.lastUsed >= idle) {
        this.entries.delete(e.tenant)
        e.stale = true
        this.dispose(e)
      }
    }
    if (this.entries.size === 0) this.stopReaper()
  }
}
