import { AsyncLocalStorage } from 'node:async_hooks'
import {
  NoTenantError,
  ResourceNotReadyError,
  TenancyConfigError,
  TenantInUseError,
  TenantSwitchError,
  UnknownResourceError,
  UnknownTenantError,
} from './errors.js'
import { Frame, Scope } from './frame.js'
import { createNameValidator, type NamingOptions } from './naming.js'
import { eachConcurrently } from './pool.js'
import { isPromise, ResourceCache } from './resource-cache.js'
import type {
  ResourceDefinition,
  ResourceOf,
  ResourceOverrides,
  Resources,
  TenantSource,
  WithTenantOptions,
} from './types.js'

/** Resource definitions by name, typed by the app's {@link Resources}. */
export type ResourceDefinitions = {
  [K in keyof Resources]?: ResourceDefinition<Resources[K]>
} & { [name: string]: ResourceDefinition<any> | undefined }

/** Configuration of a {@link Tenancy}. Every field is optional; later calls add to earlier ones. */
export interface TenancyConfig {
  /** Resources to define (or redefine: the old instances are disposed). */
  resources?: ResourceDefinitions
  /** Where tenants come from; `null` removes the source (every valid name is accepted). */
  tenants?: TenantSource | null
  /** The tenant-name rule. */
  naming?: NamingOptions
  /** Called with errors thrown by dispose hooks; default: a process warning. */
  onError?: (error: unknown) => void
}

/** Options of {@link Tenancy.withEachTenant}. */
export interface EachTenantOptions {
  /** How many tenants run at once; default 1. */
  concurrency?: number
  /** The tenants to visit; default: the tenant source's `list()`. */
  tenants?: readonly string[]
}

type Runner = <R>(fn: () => R) => R
type R0 = undefined | Promise<void>

/** An open tenant scope from {@link Tenancy.enterScope}. */
export interface TenantScope {
  /** The tenant. */
  readonly tenant: string
  /** Runs `fn` inside the tenant's frame (any number of times, until and after `close`). */
  run<R>(fn: () => R): R
  /** Releases what the scope holds; idempotent. Code run afterwards is no longer pinned. */
  close(): void
}

class ScopeHandle implements TenantScope {
  readonly tenant: string
  constructor(
    private readonly als: AsyncLocalStorage<Frame>,
    private readonly frame: Frame,
    private readonly scope: Scope | null,
  ) {
    this.tenant = frame.tenant!
  }

  run<R>(fn: () => R): R {
    return this.als.run(this.frame, fn)
  }

  close(): void {
    if (this.scope !== null && !this.scope.closed) this.scope.close()
  }
}

/**
 * A tenancy: one context variable, the resource registry and the per-tenant caches. The
 * package's exported functions use one shared default instance; create more for isolation.
 */
export class Tenancy {
  /** The context variable; its value is an immutable {@link Frame}. */
  readonly als = new AsyncLocalStorage<Frame>()
  private readonly caches = new Map<string, ResourceCache<any>>()
  /** Tenant → how many times it was refreshed; scopes older than that build uncached instances. */
  private readonly generations = new Map<string, number>()
  /** Counts refreshes of any tenant; a tenant's generation is the epoch of its last refresh. */
  private epoch = 0
  /** Resource name → index in a scope's instance array; stable across redefinitions. */
  private readonly slots = new Map<string, number>()
  private readonly singletons = new Map<string, unknown>()
  private eager: ResourceCache<any>[] = []
  private source: TenantSource | null = null
  private validate: (name: unknown) => string = createNameValidator()
  private onError: (error: unknown) => void = defaultOnError
  private readonly disposals = new Set<Promise<void>>()
  private readonly track = (p: Promise<void>): void => {
    const tracked = p
      .then(noop, (error) => this.onError(error))
      .finally(() => {
        this.disposals.delete(tracked)
      })
    this.disposals.add(tracked)
  }

  constructor(config?: TenancyConfig) {
    if (config !== undefined) this.configure(config)
  }

  /** Adds resources, sets the tenant source, naming rule or error hook. */
  configure(config: TenancyConfig): this {
    if (config.naming !== undefined) this.validate = createNameValidator(config.naming)
    if (config.tenants !== undefined) this.source = config.tenants
    if (config.onError !== undefined) this.onError = config.onError
    for (const [name, def] of Object.entries(config.resources ?? {})) {
      if (def !== undefined) this.defineResource(name, def)
    }
    return this
  }

  /** Defines (or redefines) one resource. Redefining disposes the old instances. */
  defineResource<K extends string, T = ResourceOf<K>>(
    name: K,
    def: ResourceDefinition<K extends keyof Resources ? Resources[K] : T>,
  ): void {
    if (typeof name !== 'string' || name === '')
      throw new TenancyConfigError('A resource needs a non-empty string name.')
    if (def.cap !== undefined && !(Number.isInteger(def.cap) && def.cap >= 0))
      throw new TenancyConfigError(`Resource "${name}": cap must be a whole number >= 0.`)
    if (def.eager && def.create === undefined)
      throw new TenancyConfigError(`Resource "${name}" is eager but has no create().`)
    this.undefine(name)
    const cache = new ResourceCache<unknown>(
      name,
      this.slotOf(name),
      def as ResourceDefinition<unknown>,
      this.track,
    )
    this.caches.set(name, cache)
    if (def.eager) this.eager = [...this.eager, cache]
  }

  /** True when a resource of that name is defined. */
  hasResource(name: string): boolean {
    return this.caches.has(name)
  }

  /** Checks a tenant name against the naming rule; returns it or throws. */
  validateName(name: unknown): string {
    return this.validate(name)
  }

  /** The current tenant, or `undefined` outside any tenant. */
  currentTenant(): string | undefined {
    return this.als.getStore()?.tenant
  }

  /** The current tenant; throws `NoTenantError` outside any tenant. */
  requireTenant(): string {
    const tenant = this.als.getStore()?.tenant
    if (tenant === undefined) throw new NoTenantError('requireTenant()')
    return tenant
  }

  /**
   * Runs `fn` inside `tenant`: validates the name, asks the tenant source, opens the eager
   * resources, and releases them when `fn` settles. Same-tenant nesting is a no-op.
   */
  withTenant<R>(
    tenant: string,
    fn: (tenant: string) => R | PromiseLike<R>,
    options?: WithTenantOptions,
  ): Promise<Awaited<R>> {
    // Written without async/await: on Node 20 every promise made inside an ALS context costs a
    // promise-hook round, and the warm path must stay close to a bare als.run.
    try {
      const cur = this.als.getStore()
      if (cur !== undefined && cur.tenant === tenant) return Promise.resolve(fn(tenant))
      const exists = this.admit(cur, tenant, options)
      if (exists === true) return this.enter(cur, tenant, fn)
      return exists.then(() => this.enter(cur, tenant, fn))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Opens a tenant scope that stays open until `close()`: for adapters whose unit of work ends
   * with an event rather than a callback (a request finishing, a socket closing). Same checks
   * and eager opening as {@link withTenant}; code runs in the tenant only through `run()`, so no
   * frame is ever entered with `enterWith`. Returns synchronously when the tenant source answers
   * synchronously and the eager resources are warm; throws (or rejects) like `withTenant`.
   */
  enterScope(tenant: string, options?: WithTenantOptions): TenantScope | Promise<TenantScope> {
    const cur = this.als.getStore()
    if (cur !== undefined && cur.tenant === tenant) return new ScopeHandle(this.als, cur, null)
    const exists = this.admit(cur, tenant, options)
    if (exists === true) return this.openScope(cur, tenant)
    return exists.then(() => this.openScope(cur, tenant))
  }

  /** The checks before entering: name, switch guard, tenant source. `true` or a promise. */
  private admit(
    cur: Frame | undefined,
    tenant: string,
    options: WithTenantOptions | undefined,
  ): true | Promise<void> {
    this.validate(tenant)
    const lock = cur?.lock
    if (lock !== undefined && lock !== tenant && options?.allowSwitch !== true)
      throw new TenantSwitchError(lock, tenant)
    const source = this.source
    const exists = source === null ? true : source.exists(tenant)
    if (exists === true) return true
    if (exists === false) throw new UnknownTenantError(tenant)
    return Promise.resolve(exists).then((ok) => {
      if (!ok) throw new UnknownTenantError(tenant)
    })
  }

  private openScope(cur: Frame | undefined, tenant: string): TenantScope | Promise<TenantScope> {
    const scope = new Scope(tenant, this.epoch)
    const base = cur === undefined ? null : cur.baseOverrides
    const frame = new Frame(tenant, scope, base, base, tenant)
    const handle = new ScopeHandle(this.als, frame, scope)
    let opening: R0
    try {
      opening = this.eager.length === 0 ? undefined : this.als.run(frame, this.openEager, scope)
    } catch (error) {
      scope.close()
      throw error
    }
    if (opening === undefined) return handle
    return opening.then(
      () => handle,
      (error: unknown) => {
        scope.close()
        throw error
      },
    )
  }

  /** Runs `fn` outside any tenant (fallbacks apply). Overrides made inside a tenant are dropped. */
  withoutTenant<R>(fn: () => R): R {
    const cur = this.als.getStore()
    if (cur === undefined) return fn()
    const base = cur.baseOverrides
    return this.als.run(new Frame(undefined, null, base, base, cur.lock), fn)
  }

  /**
   * Runs `fn` with some resources replaced. The replacements apply to `fn` and everything it
   * starts, and are gone afterwards (also when `fn` throws). Made outside a tenant, they also
   * apply inside tenants entered later; made inside a tenant, they stay with that tenant.
   */
  withOverrides<R>(overrides: ResourceOverrides, fn: () => R): R {
    const values: Record<string, unknown> = Object.create(null)
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined)
        throw new TenancyConfigError(
          `Override of "${name}" is undefined; leave the key out instead.`,
        )
      values[name] = value
    }
    const cur = this.als.getStore()
    const merged = cur?.overrides
      ? Object.assign(Object.create(null), cur.overrides, values)
      : values
    if (cur === undefined || cur.tenant === undefined) {
      return this.als.run(new Frame(undefined, null, merged, merged, cur?.lock), fn)
    }
    return this.als.run(new Frame(cur.tenant, cur.scope, merged, cur.baseOverrides, cur.lock), fn)
  }

  /**
   * The current value of resource `name`: an override, else the current tenant's instance,
   * else the singleton fallback. Synchronous; about one `getStore()` when warm.
   */
  getResource<K extends string>(name: K): ResourceOf<K> {
    return this.read(name, this.slotOf(name)) as ResourceOf<K>
  }

  /**
   * A getter for one resource with its slot looked up once: what `getDb()` and friends are
   * made of, so that a warm read is one `getStore()` plus an array index.
   */
  getter<K extends string>(name: K): () => ResourceOf<K> {
    const slot = this.slotOf(name)
    return () => this.read(name, slot) as ResourceOf<K>
  }

  private read(name: string, slot: number): unknown {
    const frame = this.als.getStore()
    if (frame !== undefined) {
      const overrides = frame.overrides
      if (overrides !== null) {
        const value = overrides[name]
        if (value !== undefined) return value
      }
      const scope = frame.scope
      if (scope !== null) {
        const value = scope.instances[slot]
        if (value !== undefined) return value
        return this.resolveInScope(scope, name)
      }
    }
    return this.singleton(name)
  }

  private bumpGeneration(tenant: string): void {
    // One global counter keeps the Map out of every withTenant: a scope records the epoch, and
    // only a scope that outlived some refresh looks its tenant up here.
    this.generations.set(tenant, ++this.epoch)
  }

  /** The slot of a resource name, assigned on first use. */
  private slotOf(name: string): number {
    let slot = this.slots.get(name)
    if (slot === undefined) {
      slot = this.slots.size
      this.slots.set(name, slot)
    }
    return slot
  }

  /** Captures the current frame; the returned runner runs callbacks in it later. */
  snapshot(): Runner {
    const frame = this.als.getStore() as Frame
    return (fn) => this.als.run(frame, fn)
  }

  /** Wraps `fn` so that it always runs in the frame current now (event listeners, timers). */
  bind<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    const run = this.snapshot()
    return function (this: unknown, ...args: A): R {
      return run(() => fn.apply(this, args))
    }
  }

  /**
   * Drops the tenant's cached instances so the next getters build fresh ones. Idle instances
   * are disposed before this resolves; ones in use are disposed when their scopes finish
   * (code already running keeps the instance it has).
   */
  async refreshTenant(tenant: string, resourceNames?: readonly string[]): Promise<void> {
    this.validate(tenant)
    this.bumpGeneration(tenant)
    const gone: Promise<void>[] = []
    for (const cache of this.selectCaches(resourceNames)) {
      const entry = cache.refresh(tenant)
      if (entry !== undefined && entry.refs === 0) gone.push(cache.whenGone(entry))
    }
    await Promise.all(gone)
  }

  /**
   * Disposes all of the tenant's instances and waits until the ones in use are released
   * (`TenantInUseError` after `timeoutMs`, default 5000). Used before destroying a tenant.
   */
  async releaseTenant(tenant: string, options: { timeoutMs?: number } = {}): Promise<void> {
    this.validate(tenant)
    const timeoutMs = options.timeoutMs ?? 5000
    this.bumpGeneration(tenant)
    const gone: Promise<void>[] = []
    for (const cache of this.caches.values()) {
      const entry = cache.refresh(tenant)
      if (entry !== undefined) gone.push(cache.whenGone(entry))
    }
    if (gone.length === 0) return
    if (this.currentTenant() === tenant) throw new TenantInUseError(tenant, 0)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TenantInUseError(tenant, timeoutMs)), timeoutMs)
    })
    try {
      await Promise.race([Promise.all(gone), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** True when the tenant source knows the tenant (always true without a source). */
  async tenantExists(tenant: string): Promise<boolean> {
    this.validate(tenant)
    return this.source === null ? true : await this.source.exists(tenant)
  }

  /** Ready tenants from the tenant source (empty without a source that can list). */
  async listTenants(): Promise<string[]> {
    const list = this.source?.list
    return list === undefined ? [] : [...(await list.call(this.source))]
  }

  /**
   * Runs `fn` once inside each tenant (switching allowed), `concurrency` at a time. Every
   * tenant is visited even when some fail; failures are thrown together as an AggregateError.
   */
  async withEachTenant<R>(
    fn: (tenant: string) => R | PromiseLike<R>,
    options: EachTenantOptions = {},
  ): Promise<Awaited<R>[]> {
    const tenants = options.tenants ?? (await this.listTenants())
    const results: Awaited<R>[] = new Array(tenants.length)
    const errors: unknown[] = []
    await eachConcurrently(tenants, options.concurrency ?? 1, async (tenant, i) => {
      try {
        results[i] = await this.withTenant(tenant, fn, { allowSwitch: true })
      } catch (error) {
        errors.push(error)
      }
    })
    if (errors.length > 0)
      throw new AggregateError(errors, `${errors.length} of ${tenants.length} tenants failed`)
    return results
  }

  /** Number of cached instances of a resource (for diagnostics and tests). */
  cachedCount(name: string): number {
    return this.caches.get(name)?.entries.size ?? 0
  }

  /** Disposes every instance and singleton and waits for all dispose hooks. */
  async close(): Promise<void> {
    for (const name of this.caches.keys()) this.disposeOf(name)
    while (this.disposals.size > 0) await Promise.all([...this.disposals])
  }

  /** {@link close}, then forgets every definition, the tenant source and the naming rule. */
  async reset(): Promise<void> {
    await this.close()
    this.caches.clear()
    this.eager = []
    this.source = null
    this.validate = createNameValidator()
    this.onError = defaultOnError
  }

  /** Opens the scope, runs `fn` in the tenant's frame, and closes the scope when it settles. */
  private enter<R>(
    cur: Frame | undefined,
    tenant: string,
    fn: (tenant: string) => R | PromiseLike<R>,
  ): Promise<Awaited<R>> {
    const scope = new Scope(tenant, this.epoch)
    const base = cur === undefined ? null : cur.baseOverrides
    let result: R | PromiseLike<R>
    try {
      // Eager resources open inside the new frame, so their factories can use the getters of
      // resources defined before them (settings read from getDb(), a renderer from settings).
      result = this.als.run(new Frame(tenant, scope, base, base, tenant), () =>
        this.runIn(scope, fn),
      )
    } catch (error) {
      scope.close()
      return Promise.reject(error)
    }
    if (!isPromise<Awaited<R>>(result)) {
      scope.close()
      return Promise.resolve(result as Awaited<R>)
    }
    return result.then(
      (value) => {
        scope.close()
        return value
      },
      (error: unknown) => {
        scope.close()
        throw error
      },
    )
  }

  private readonly runIn = <R>(
    scope: Scope,
    fn: (tenant: string) => R | PromiseLike<R>,
  ): R | PromiseLike<R> => {
    const opening = this.eager.length === 0 ? undefined : this.openEager(scope)
    if (opening === undefined) return fn(scope.tenant)
    return opening.then(() => fn(scope.tenant))
  }

  /** Opens the eager resources into `scope`; a promise only when one is still being created. */
  private readonly openEager = (scope: Scope): R0 => {
    const eager = this.eager
    for (let i = 0; i < eager.length; i++) {
      const cache = eager[i]!
      const entry = cache.acquire(scope.tenant)
      scope.hold(entry)
      if (entry.pending !== null) return this.openRest(scope, i, entry.pending)
      scope.instances[cache.slot] = entry.value
    }
    return undefined
  }

  /** The slow path of {@link openEager}: an eager resource is still being created. */
  private async openRest(scope: Scope, from: number, pending: Promise<unknown>): Promise<void> {
    const eager = this.eager
    scope.instances[eager[from]!.slot] = await pending
    for (let i = from + 1; i < eager.length; i++) {
      const cache = eager[i]!
      const entry = cache.acquire(scope.tenant)
      scope.hold(entry)
      scope.instances[cache.slot] = entry.pending === null ? entry.value : await entry.pending
    }
  }

  private resolveInScope(scope: Scope, name: string): unknown {
    const cache = this.caches.get(name)
    if (cache === undefined) throw new UnknownResourceError(name)
    if (cache.def.create === undefined) return this.singleton(name)
    const tenant = scope.tenant
    // After the scope has finished (a late timer, a stored callback), hand out the instance
    // without pinning it: nobody would ever release the hold.
    if (scope.closed) {
      const existing = cache.entries.get(tenant)
      if (existing?.value !== undefined) return existing.value
    }
    // A scope that opened before a refresh of its tenant may still read the old settings: what
    // it builds now must not be cached as if it were fresh.
    const outdated =
      scope.generation !== this.epoch && (this.generations.get(tenant) ?? 0) > scope.generation
    const entry = cache.acquire(tenant, outdated)
    if (entry.pending !== null && !cache.def.eager) {
      // A lazy factory must be synchronous. Fail the same way every time: drop the entry (it is
      // disposed once it settles) rather than serve it to whoever comes later.
      cache.release(entry)
      cache.refresh(tenant)
      throw new ResourceNotReadyError(name, tenant)
    }
    if (scope.closed) cache.release(entry)
    else scope.hold(entry)
    if (entry.pending !== null) throw new ResourceNotReadyError(name, tenant)
    if (!scope.closed) scope.instances[cache.slot] = entry.value
    return entry.value
  }

  private singleton(name: string): unknown {
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

  private selectCaches(names?: readonly string[]): ResourceCache<any>[] {
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
    const cache = this.caches.get(name)!
    cache.clear()
    if (this.singletons.has(name)) {
      const value = this.singletons.get(name)
      this.singletons.delete(name)
      const dispose = cache.def.dispose
      if (dispose !== undefined) {
        try {
          const result = dispose(value, undefined)
          if (result) this.track(Promise.resolve(result))
        } catch (error) {
          this.onError(error)
        }
      }
    }
  }
}

function noop(): void {}

function defaultOnError(error: unknown): void {
  process.emitWarning(
    `tenantry: a dispose hook failed: ${error instanceof Error ? error.message : String(error)}`,
  )
}
