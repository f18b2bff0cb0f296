import type { AsyncLocalStorage } from 'node:async_hooks'
import { TenantSwitchError, UnknownTenantError } from './errors.js'
import { type Frame, Scope, tenantFrame } from './frame.js'
import type { EntryHooks } from './hooks.js'
import { isThenable } from './internal.js'
import { createNameValidator } from './naming.js'
import type { ResourceRegistry } from './registry.js'
import type { TenantSource, WithTenantOptions } from './types.js'

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
    private readonly entry: ScopeEntry | null = null,
    private readonly hooks: EntryHooks | null = null,
    private readonly startedAt = 0,
  ) {
    this.tenant = frame.tenant as string
  }

  run<R>(fn: () => R): R {
    return this.als.run(this.frame, fn)
  }

  close(): void {
    const scope = this.scope
    if (scope === null || scope.closed) return
    const hooks = this.hooks
    if (hooks !== null) {
      const onError = (this.entry as ScopeEntry).onError
      this.run(() => hooks.left(this.tenant, this.startedAt, false, undefined, onError))
    }
    scope.close()
  }
}

/**
 * How code enters a tenant: the admission checks (name, switch guard, tenant source), the new
 * frame, the eager resources opened into the scope, the enter/leave hooks, and the scope closed
 * when the work settles. The warm path is written without async/await: on Node 20 every promise
 * made inside an ALS context costs a promise-hook round, and it must stay close to a bare
 * `als.run`.
 */
export class ScopeEntry {
  /** Where tenants come from; `null`: every valid name is accepted. */
  source: TenantSource | null = null
  /** The tenant-name rule. */
  validate: (name: unknown) => string = createNameValidator()
  /** The enter/leave hooks; `null` (the common case) keeps them off the warm path. */
  hooks: EntryHooks | null = null

  constructor(
    private readonly als: AsyncLocalStorage<Frame>,
    private readonly registry: ResourceRegistry,
  ) {}

  /** Where errors of leave hooks go (the registry's error hook). */
  get onError(): (error: unknown) => void {
    return this.registry.onError
  }

  withTenant<R>(
    tenant: string,
    fn: (tenant: string) => R | PromiseLike<R>,
    options?: WithTenantOptions,
  ): Promise<Awaited<R>> {
    try {
      const cur = this.als.getStore()
      // Same-tenant nesting is a no-op, unless the frame's scope has ended (a late callback):
      // then this opens a fresh scope, which reopens what was closed since.
      if (cur !== undefined && cur.tenant === tenant && !(cur.scope as Scope).closed)
        return Promise.resolve(fn(tenant))
      const exists = this.admit(cur, tenant, options)
      if (exists === true) return this.enter(cur, tenant, fn)
      return exists.then(() => this.enter(cur, tenant, fn))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  enterScope(tenant: string, options?: WithTenantOptions): TenantScope | Promise<TenantScope> {
    const cur = this.als.getStore()
    if (cur !== undefined && cur.tenant === tenant && !(cur.scope as Scope).closed)
      return new ScopeHandle(this.als, cur, null)
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
    const scope = new Scope(tenant, this.registry.epoch, this.registry.slotCount)
    const frame = tenantFrame(cur, tenant, scope)
    const hooks = this.hooks
    let opening: R0
    try {
      opening =
        this.registry.eager.length === 0 ? undefined : this.als.run(frame, this.openEager, scope)
      if (opening === undefined) return this.handle(frame, scope, hooks)
    } catch (error) {
      scope.close()
      throw error
    }
    return opening
      .then(() => this.handle(frame, scope, hooks))
      .catch((error: unknown) => {
        scope.close()
        throw error
      })
  }

  /** The handle of an opened scope, after its enter hooks (which may refuse it by throwing). */
  private handle(frame: Frame, scope: Scope, hooks: EntryHooks | null): TenantScope {
    if (hooks === null) return new ScopeHandle(this.als, frame, scope)
    const tenant = scope.tenant
    let startedAt = 0
    try {
      startedAt = this.als.run(frame, () => hooks.entered(tenant))
    } catch (error) {
      this.als.run(frame, () => hooks.left(tenant, 0, true, error, this.onError))
      throw error
    }
    return new ScopeHandle(this.als, frame, scope, this, hooks, startedAt)
  }

  /** Opens the scope, runs `fn` in the tenant's frame, and closes the scope when it settles. */
  private enter<R>(
    cur: Frame | undefined,
    tenant: string,
    fn: (tenant: string) => R | PromiseLike<R>,
  ): Promise<Awaited<R>> {
    const registry = this.registry
    const scope = new Scope(tenant, registry.epoch, registry.slotCount)
    const frame = tenantFrame(cur, tenant, scope)
    if (this.hooks !== null) return this.enterHooked(frame, scope, fn, this.hooks)
    let result: R | PromiseLike<R>
    try {
      // Warm eager instances are taken here, before entering: taking a cached one runs no
      // factory. From the first cold one on, they open inside the new frame, so that factories
      // can use the getters of resources defined before them (settings read from getDb()).
      const eager = registry.eager
      let i = 0
      for (; i < eager.length; i++) {
        const cache = eager[i]!
        const entry = cache.warm(tenant)
        if (entry === undefined) break
        scope.hold(entry)
        scope.instances[cache.slot] = entry.value
      }
      result =
        i === eager.length
          ? this.als.run(frame, fn, tenant)
          : this.als.run(frame, this.runCold<R>, scope, i, fn)
    } catch (error) {
      scope.close()
      return Promise.reject(error)
    }
    if (!isThenable<Awaited<R>>(result)) {
      scope.close()
      return Promise.resolve(result as Awaited<R>)
    }
    return Promise.resolve(result).then(
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

  /** Opens the eager resources from `from` on (the first cold one), then runs `fn`. */
  private readonly runCold = <R>(
    scope: Scope,
    from: number,
    fn: (tenant: string) => R | PromiseLike<R>,
  ): R | PromiseLike<R> => {
    const opening = this.openEager(scope, from)
    if (opening === undefined) return fn(scope.tenant)
    return opening.then(() => fn(scope.tenant))
  }

  /** {@link enter} with hooks registered: the slower, plainly written path. */
  private enterHooked<R>(
    frame: Frame,
    scope: Scope,
    fn: (tenant: string) => R | PromiseLike<R>,
    hooks: EntryHooks,
  ): Promise<Awaited<R>> {
    const tenant = scope.tenant
    return this.als.run(frame, async (): Promise<Awaited<R>> => {
      try {
        const opening = this.registry.eager.length === 0 ? undefined : this.openEager(scope)
        if (opening !== undefined) await opening
        let startedAt = 0
        try {
          startedAt = hooks.entered(tenant)
          const value = await fn(tenant)
          hooks.left(tenant, startedAt, false, undefined, this.onError)
          return value
        } catch (error) {
          hooks.left(tenant, startedAt, true, error, this.onError)
          throw error
        }
      } finally {
        scope.close()
      }
    })
  }

  /**
   * Opens the eager resources (from index `from` on) into `scope`; a promise only when one is
   * still being created.
   */
  private readonly openEager = (scope: Scope, from = 0): R0 => {
    const eager = this.registry.eager
    for (let i = from; i < eager.length; i++) {
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
    const eager = this.registry.eager
    scope.instances[eager[from]!.slot] = await pending
    for (let i = from + 1; i < eager.length; i++) {
      const cache = eager[i]!
      const entry = cache.acquire(scope.tenant)
      scope.hold(entry)
      scope.instances[cache.slot] = entry.pending === null ? entry.value : await entry.pending
    }
  }
}
