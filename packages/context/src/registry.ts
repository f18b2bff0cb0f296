import {
  NoTenantError,
  ResourceNotReadyError,
  ScopeEndedError,
  TenancyConfigError,
  UnknownResourceError,
} from './errors.js'
import type { Scope } from './frame.js'
import { noop } from './internal.js'
import { type Entry, ResourceCache } from './resource-cache.js'
import type { ResourceDefinition } from './types.js'

/**
 * The resource registry of one tenancy: definitions, per-tenant caches, singleton fallbacks and
 * the refresh generations. It knows nothing of the context variable: the front reads the frame
 * and asks the registry only when a scope has not resolved a resource yet.
 */
export class ResourceRegistry {
  readonly caches = new Map<string, ResourceCache<any>>()
  /** The eager caches, in definition order (opened by every scope entry). */
  eager: ResourceCache<any>[] = []
  /** Counts refreshes of any tenant; a tenant's generation is the epoch of its last refresh. */
  epoch = 0
  /** Tenant → the epoch of its last refresh; scopes older than that build uncached instances. */
  private readonly generations = new Map<string, number>()
  /** Resource name → index in a scope's instance array; stable across redefinitions. */
  private readonly slots = new Map<string, number>()
  private readonly singletons = new Map<string, unknown>()
  private readonly disposals = new Set<Promise<void>>()
  onError: (error: unknown) => void = defaultOnError
  private readonly track = (p: Promise<void>): void => {
    const tracked = p
      .then(noop, (error) => this.onError(error))
      .finally(() => {
        this.disposals.delete(tracked)
      })
    this.disposals.add(tracked)
  }

  /** Defines (or redefines) one resource. Redefining disposes the old instances. */
  define(name: string, def: ResourceDefinition<unknown>): void {
    if (typeof name !== 'string' || name === '')
      throw new TenancyConfigError('A resource needs a non-empty string name.')
    if (def.cap !== undefined && !(Number.isInteger(def.cap) && def.cap >= 0))
      throw new TenancyConfigError(`Resource "${name}": cap must be a whole number >= 0.`)
    if (def.eager && def.create === undefined)
      throw new TenancyConfigError(`Resource "${name}" is eager but has no create().`)
    this.undefine(name)
    const cache = new ResourceCache<unknown>(name, this.slotOf(name), def, this.track)
    this.caches.set(name, cache)
    if (def.eager) this.eager = [...this.eager, cache]
  }

  /** How many slots are assigned (the size of a new scope's instance array). */
  get slotCount(): number {
    return this.slots.size
  }

  /** The slot of a resource name, assigned on first use. */
  slotOf(name: string): number {
    let slot = this.slots.get(name)
    if (slot === undefined) {
      slot = this.slots.size
      this.slots.set(name, slot)
    }
    return slot
  }

  /** Resolves `name` for a scope that has not used it yet (the slow path of a getter). */
  resolve(scope: Scope, name: string): unknown {
    const cache = this.caches.get(name)
    if (cache === undefined) throw new UnknownResourceError(name)
    if (cache.def.create === undefined) return this.singleton(name)
    const tenant = scope.tenant
    if (scope.closed) return this.resolveLate(cache, tenant)
    // A scope that opened before a refresh of its tenant may still read the old settings: what
    // it builds now must not be cached as if it were fresh.
    const outdated =
      scope.generation !== this.epoch && (this.generations.get(tenant) ?? 0) > scope.generation
    const entry = cache.acquire(tenant, outdated)
    if (entry.pending !== null) {
      if (!cache.def.eager) {
        // A lazy factory must be synchronous. Fail the same way every time: drop the entry (it
        // is disposed once it settles) rather than serve it to whoever comes later.
        cache.release(entry)
        cache.refresh(tenant)
      } else scope.hold(entry)
      throw new ResourceNotReadyError(name, tenant)
    }
    scope.hold(entry)
    scope.instances[cache.slot] = entry.value
    return entry.value
  }

  /**
   * A getter in a scope that has finished (a late timer, a `bind()`/`snapshot()` callback):
   * the instance is handed out without a hold, since nobody would ever release it. A cached
   * instance is served; a synchronous factory builds one; an eager (asynchronous) one that was
   * evicted since cannot be opened by a synchronous getter: its opening starts, so that the next
   * scope finds it warm, and this call fails with {@link ScopeEndedError}.
   */
  private resolveLate(cache: ResourceCache<unknown>, tenant: string): unknown {
    const existing = cache.entries.get(tenant)
    if (existing !== undefined && existing.pending === null) return existing.value
    let entry: Entry<unknown>
    if (existing === undefined) {
      entry = cache.acquire(tenant)
      cache.release(entry)
    } else entry = existing
    if (entry.pending === null) return entry.value
    if (!cache.def.eager) {
      cache.refresh(tenant)
      throw new ResourceNotReadyError(cache.name, tenant)
    }
    throw new ScopeEndedError(cache.name, tenant)
  }

  /** The singleton fallback of `name`, built on first use. */
  singleton(name: string): unknown {
    const existing = this.singletons.get(name)
    if (existing !== undefined) return existing
    const cache = this.caches.get(name)
    if (cache === undefined) throw new UnknownResourceError(name)
    const { fallback, tenantOnly } = cache.def
    if (tenantOnly || fallback === undefined)
      throw new NoTenantError(
        tenantOnly
          ? `Resource "${name}" (tenant-only)`
          : `Resource "${name}" has no singleton fallback, so it`,
      )
    const value = fallback()
    this.singletons.set(name, value)
    return value
  }

  /**
   * Drops the tenant's instances of `names` (default: every resource) from the caches and
   * returns a promise per instance that resolves once it is disposed (`idleOnly`: only for
   * instances nobody holds).
   */
  refresh(
    tenant: string,
    names: readonly string[] | undefined,
    idleOnly: boolean,
  ): Promise<void>[] {
    // One global counter keeps the Map out of every scope entry: a scope records the epoch,
    // and only a scope that outlived some refresh looks its tenant up.
    this.generations.set(tenant, ++this.epoch)
    const gone: Promise<void>[] = []
    for (const cache of this.select(names)) {
      const entry = cache.refresh(tenant)
      if (entry !== undefined && (!idleOnly || entry.refs === 0)) gone.push(cache.whenGone(entry))
    }
    return gone
  }

  /** Number of cached instances of a resource. */
  cachedCount(name: string): number {
    return this.caches.get(name)?.entries.size ?? 0
  }

  /** Disposes every instance and singleton and waits for all dispose hooks. */
  async close(): Promise<void> {
    for (const name of this.caches.keys()) this.disposeOf(name)
    while (this.disposals.size > 0) await Promise.all([...this.disposals])
  }

  /** {@link close}, then forgets every definition and the error hook. */
  async reset(): Promise<void> {
    await this.close()
    this.caches.clear()
    this.eager = []
    this.onError = defaultOnError
  }

  private select(names?: readonly string[]): ResourceCache<any>[] {
    if (names === undefined) return [...this.caches.values()]
    return names.map((n) => {
      const cache = this.caches.get(n)
      if (cache === undefined) throw new UnknownResourceError(n)
      return cache
    })
  }

  private undefine(name: string): void {
    if (!this.caches.has(name)) return
    this.disposeOf(name)
    this.caches.delete(name)
    this.eager = this.eager.filter((c) => c.name !== name)
  }

  private disposeOf(name: string): void {
    const cache = this.caches.get(name)
    if (cache === undefined) return
    cache.clear()
    if (!this.singletons.has(name)) return
    const value = this.singletons.get(name)
    this.singletons.delete(name)
    const dispose = cache.def.dispose
    if (dispose === undefined) return
    try {
      const result = dispose(value, undefined)
      if (result) this.track(Promise.resolve(result))
    } catch (error) {
      this.onError(error)
    }
  }
}

function defaultOnError(error: unknown): void {
  process.emitWarning(
    `tenantry: a dispose hook failed: ${error instanceof Error ? error.message : String(error)}`,
  )
}
