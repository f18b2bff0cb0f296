import { AsyncLocalStorage } from 'node:async_hooks'
import { ScopeEntry, type TenantScope } from './entry.js'
import { NoTenantError, TenancyConfigError, TenantInUseError } from './errors.js'
import { Frame } from './frame.js'
import { EntryHooks, type TenantEnterHook, type TenantLeaveHook } from './hooks.js'
import type { Runner } from './internal.js'
import { createNameValidator, type NamingOptions } from './naming.js'
import { eachConcurrently } from './pool.js'
import { ResourceRegistry } from './registry.js'
import type {
  ResourceDefinition,
  ResourceOf,
  ResourceOverrides,
  Resources,
  TenantSource,
  WithTenantOptions,
} from './types.js'

export type { TenantScope } from './entry.js'

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
  /** Called with errors thrown by dispose hooks and leave hooks; default: a process warning. */
  onError?: (error: unknown) => void
}

/** Options of {@link Tenancy.withEachTenant}. */
export interface EachTenantOptions {
  /** How many tenants run at once; default 1. */
  concurrency?: number | undefined
  /** The tenants to visit; default: the tenant source's `list()`. */
  tenants?: readonly string[] | undefined
}

/**
 * A tenancy: one context variable, the resource registry and the per-tenant caches. The
 * package's exported functions use one shared default instance; create more for isolation.
 * This class is the front: resources live in the registry (`registry.ts`), entering a tenant
 * in the scope entry (`entry.ts`); the context variable itself stays private.
 */
export class Tenancy {
  /** The context variable; its value is an immutable {@link Frame}. */
  private readonly als = new AsyncLocalStorage<Frame>()
  private readonly registry = new ResourceRegistry()
  private readonly entry = new ScopeEntry(this.als, this.registry)

  constructor(config?: TenancyConfig) {
    if (config !== undefined) this.configure(config)
  }

  /** Adds resources, sets the tenant source, naming rule or error hook. */
  configure(config: TenancyConfig): this {
    if (config.naming !== undefined) this.entry.validate = createNameValidator(config.naming)
    if (config.tenants !== undefined) this.entry.source = config.tenants
    if (config.onError !== undefined) this.registry.onError = config.onError
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
    this.registry.define(name, def as ResourceDefinition<unknown>)
  }

  /** True when a resource of that name is defined. */
  hasResource(name: string): boolean {
    return this.registry.caches.has(name)
  }

  /** Checks a tenant name against the naming rule; returns it or throws. */
  validateName(name: unknown): string {
    return this.entry.validate(name)
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
   * resources, runs the enter hooks, and releases everything when `fn` settles. Same-tenant
   * nesting is a no-op (inside a scope that has not ended).
   */
  withTenant<R>(
    tenant: string,
    fn: (tenant: string) => R | PromiseLike<R>,
    options?: WithTenantOptions,
  ): Promise<Awaited<R>> {
    return this.entry.withTenant(tenant, fn, options)
  }

  /**
   * Opens a tenant scope that stays open until `close()`: for adapters whose unit of work ends
   * with an event rather than a callback (a request finishing, a socket closing). Same checks
   * and eager opening as {@link withTenant}; code runs in the tenant only through `run()`, so no
   * frame is ever entered with `enterWith`. Returns synchronously when the tenant source answers
   * synchronously and the eager resources are warm; throws (or rejects) like `withTenant`.
   */
  enterScope(tenant: string, options?: WithTenantOptions): TenantScope | Promise<TenantScope> {
    return this.entry.enterScope(tenant, options)
  }

  /**
   * Registers a hook run each time a scope enters a tenant (`withTenant`, `enterScope`,
   * `withEachTenant`; not same-tenant nesting), inside the tenant, after its eager resources
   * opened and before its code runs: for metrics and auditing. Synchronous; one that throws
   * refuses the entry (the error reaches the caller). Returns a function that removes it.
   */
  onEnter(hook: TenantEnterHook): () => void {
    return this.hook('enter', hook)
  }

  /**
   * Registers a hook run when a scope that ran the enter hooks ends (also when its code or an
   * enter hook threw), still inside the tenant; in reverse order of registration. Its errors go
   * to the `onError` hook. Returns a function that removes it.
   */
  onLeave(hook: TenantLeaveHook): () => void {
    return this.hook('leave', hook)
  }

  private hook(kind: 'enter' | 'leave', hook: TenantEnterHook | TenantLeaveHook): () => void {
    if (typeof hook !== 'function')
      throw new TenancyConfigError(`on${kind === 'enter' ? 'Enter' : 'Leave'}() needs a function.`)
    this.entry.hooks = EntryHooks.with(this.entry.hooks, kind, hook, true)
    let removed = false
    return () => {
      if (removed) return
      removed = true
      this.entry.hooks = EntryHooks.with(this.entry.hooks, kind, hook, false)
    }
  }

  /** Runs `fn` outside any tenant (fallbacks apply). Overrides made inside a tenant are dropped. */
  withoutTenant<R>(fn: () => R): R {
    const cur = this.als.getStore()
    if (cur === undefined) return fn()
    const base = cur.baseOverrides
    return this.als.run(new Frame(undefined, null, base, base, cur.lock), fn)
  }

  /**
   * Runs `fn` as a new entry point would (an incoming request, a job): outside any tenant and
   * free of the current switch guard, keeping only the overrides made outside any tenant. For
   * test helpers that play an outside caller from inside a test's tenant.
   */
  detached<R>(fn: () => R): R {
    const cur = this.als.getStore()
    if (cur === undefined) return fn()
    const base = cur.baseOverrides
    return this.als.run(new Frame(undefined, null, base, base, undefined), fn)
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
    return this.read(name, this.registry.slotOf(name)) as ResourceOf<K>
  }

  /**
   * A getter for one resource with its slot looked up once: what `getDb()` and friends are
   * made of, so that a warm read is one `getStore()` plus an array index.
   */
  getter<K extends string>(name: K): () => ResourceOf<K> {
    const slot = this.registry.slotOf(name)
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
        return this.registry.resolve(scope, name)
      }
    }
    return this.registry.singleton(name)
  }

  /**
   * Captures the current frame; the returned runner runs callbacks in it later. A callback run
   * after the scope ended is not pinned: see "Late callbacks" in `docs/context.md`.
   */
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
    this.entry.validate(tenant)
    await Promise.all(this.registry.refresh(tenant, resourceNames, true))
  }

  /**
   * Disposes all of the tenant's instances and waits until the ones in use are released
   * (`TenantInUseError` after `timeoutMs`, default 5000). Used before destroying a tenant.
   */
  async releaseTenant(tenant: string, options: { timeoutMs?: number } = {}): Promise<void> {
    this.entry.validate(tenant)
    const timeoutMs = options.timeoutMs ?? 5000
    const gone = this.registry.refresh(tenant, undefined, false)
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
    this.entry.validate(tenant)
    const source = this.entry.source
    return source === null ? true : await source.exists(tenant)
  }

  /** Ready tenants from the tenant source (empty without a source that can list). */
  async listTenants(): Promise<string[]> {
    const source = this.entry.source
    const list = source?.list
    return list === undefined ? [] : [...(await list.call(source))]
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
    return this.registry.cachedCount(name)
  }

  /** Disposes every instance and singleton and waits for all dispose hooks. */
  async close(): Promise<void> {
    await this.registry.close()
  }

  /** {@link close}, then forgets every definition, hook, the tenant source and the naming rule. */
  async reset(): Promise<void> {
    await this.registry.reset()
    this.entry.source = null
    this.entry.validate = createNameValidator()
    this.entry.hooks = null
  }
}
