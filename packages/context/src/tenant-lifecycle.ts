import { TenancyConfigError, TenantryError } from './errors.js'

declare module './errors.js' {
  interface TenantryErrorCodes {
    TENANTRY_LIFECYCLE_LISTENER: true
    TENANTRY_TENANT_CLEANUP: true
  }
}

/**
 * The events a tenant store emits, with what each listener receives. The order for one tenant
 * is `creating` → `created` → (`migrated`)* → `destroying` → `destroyed`; `restored` and
 * `moved` follow a restore from a backup or an import of another store's archive, in place of
 * `created`. A soft delete emits `deleting` → `deleted` (and `undeleted` when undone); its
 * purge later emits `destroying` → `destroyed` like a destroy.
 *
 * What a listener's failure does depends on the event (see {@link TenantLifecycle.emit}):
 * - `creating` (nothing is visible yet; remove leftovers of an earlier tenant of that name):
 *   a failure aborts the create.
 * - `destroying` (the tenant is hidden in this process — no new scope enters it — and its data
 *   is still there; scopes already inside it may still run, and the store releases its handles
 *   only after the listeners, so close long-lived connections here): a failure aborts the
 *   destroy and the tenant is visible again, whole.
 * - `destroyed` (the database is gone for every process; remove what you hold): every listener
 *   runs, then failures are thrown together as {@link TenantCleanupError}. The leftovers are
 *   removed by the next `creating` of the name, so a new tenant never inherits them.
 * - the others are notifications: failures are collected and thrown together, after the fact.
 */
export interface TenantLifecycleEvents {
  creating: { tenant: string }
  created: { tenant: string }
  migrated: { tenant: string; applied: readonly string[] }
  destroying: { tenant: string }
  destroyed: { tenant: string }
  /** The tenant's data came from an archive made by another store (`from`: its backend). */
  moved: { tenant: string; from: string }
  /** The tenant was restored from a backup (`from`: the archive's tenant name). */
  restored: { tenant: string; from: string }
  /**
   * A soft delete (`destroyTenant(t, { graceMs })`) is about to hide the tenant for every
   * process; like `destroying`, a failure aborts it (close long-lived connections here).
   */
  deleting: { tenant: string; purgeAt: Date }
  /** The tenant is soft-deleted: hidden everywhere, its data kept until `purgeAt`. */
  deleted: { tenant: string; purgeAt: Date }
  /** A soft delete was undone: the tenant is visible again, whole. */
  undeleted: { tenant: string }
}

/** One of {@link TenantLifecycleEvents}' names. */
export type TenantLifecycleEvent = keyof TenantLifecycleEvents

/** A lifecycle listener; may be async (the store waits for it). */
export type TenantLifecycleListener<E extends TenantLifecycleEvent> = (
  event: TenantLifecycleEvents[E],
) => void | Promise<void>

/**
 * A folder of per-tenant files another package keeps outside the database (uploads, caches on
 * disk). Backups, exports and clones carry it; destroy does not touch it (its owner listens to
 * `destroyed`).
 */
export interface TenantFileSet {
  /** A short stable name, the folder's name inside archives (`storage`). */
  readonly name: string
  /** The tenant's folder (it may not exist: no files). */
  dir(tenant: string): string
}

/** What resources attach to: a store's lifecycle (`store.lifecycle`). */
export interface LifecycleTarget {
  readonly lifecycle: TenantLifecycle
}

/** A listener of `event` failed; `cause` is what it threw. */
export class LifecycleListenerError extends TenantryError {
  readonly tenant: string
  readonly event: TenantLifecycleEvent

  constructor(event: TenantLifecycleEvent, tenant: string, cause: unknown) {
    super(
      'TENANTRY_LIFECYCLE_LISTENER',
      `A "${event}" listener failed for tenant "${tenant}": ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    )
    this.tenant = tenant
    this.event = event
  }
}

/**
 * The tenant's database is gone, but some resource could not remove what it holds (files, jobs,
 * cache entries). The tenant is invisible everywhere; the leftovers are removed when a tenant
 * of this name is next created, or now with `store.purgeTenant(name)`.
 */
export class TenantCleanupError extends TenantryError {
  readonly tenant: string
  /** What each failed listener threw. */
  readonly errors: readonly unknown[]

  constructor(tenant: string, errors: readonly unknown[]) {
    super(
      'TENANTRY_TENANT_CLEANUP',
      `Tenant "${tenant}" was destroyed, but ${errors.length} of its resources could not be removed (${errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}). Fix the cause and run store.purgeTenant("${tenant}") (tenantry destroy ${tenant} --purge); creating "${tenant}" again also removes them first.`,
      { cause: errors[0] },
    )
    this.tenant = tenant
    this.errors = errors
  }
}

/**
 * A store's lifecycle: typed events that resources subscribe to, and the file sets backups
 * carry. Listeners run one after another in the order they were added, each awaited, so a
 * listener may rely on the ones before it having finished.
 */
export class TenantLifecycle {
  private readonly listeners = new Map<TenantLifecycleEvent, TenantLifecycleListener<any>[]>()
  private readonly fileSets: TenantFileSet[] = []

  /** Adds a listener; returns a function that removes it. */
  on<E extends TenantLifecycleEvent>(event: E, listener: TenantLifecycleListener<E>): () => void {
    const list = this.listeners.get(event) ?? []
    list.push(listener)
    this.listeners.set(event, list)
    return () => {
      const i = list.indexOf(listener)
      if (i >= 0) list.splice(i, 1)
    }
  }

  /** Registers a file set that backups, exports and clones carry; returns its remover. */
  addFiles(set: TenantFileSet): () => void {
    if (this.fileSets.some((s) => s.name === set.name))
      throw new TenancyConfigError(`A file set named "${set.name}" is already registered.`)
    this.fileSets.push(set)
    return () => {
      const i = this.fileSets.indexOf(set)
      if (i >= 0) this.fileSets.splice(i, 1)
    }
  }

  /** The registered file sets, in registration order. */
  files(): readonly TenantFileSet[] {
    return [...this.fileSets]
  }

  /** How many listeners `event` has. */
  listenerCount(event: TenantLifecycleEvent): number {
    return this.listeners.get(event)?.length ?? 0
  }

  /**
   * Runs the listeners of `event`. `creating`, `destroying` and `deleting` stop at the first failure and
   * throw it as {@link LifecycleListenerError} (the store then aborts). The others run every
   * listener and then throw: `destroyed` a {@link TenantCleanupError}, the rest a
   * {@link LifecycleListenerError} for the first failure.
   */
  async emit<E extends TenantLifecycleEvent>(
    event: E,
    payload: TenantLifecycleEvents[E],
  ): Promise<void> {
    const list = this.listeners.get(event)
    if (list === undefined || list.length === 0) return
    const tenant = payload.tenant
    const errors: unknown[] = []
    for (const listener of [...list]) {
      try {
        await listener(payload)
      } catch (error) {
        if (event === 'creating' || event === 'destroying' || event === 'deleting')
          throw new LifecycleListenerError(event, tenant, error)
        errors.push(error)
      }
    }
    if (errors.length === 0) return
    if (event === 'destroyed') throw new TenantCleanupError(tenant, errors)
    throw new LifecycleListenerError(event, tenant, errors[0])
  }
}
