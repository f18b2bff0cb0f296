import { type TenantLifecycle, TenantryError, UnknownTenantError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_TENANT_DELETED: true
    TENANTRY_TENANT_NOT_DELETED: true
    TENANTRY_GRACE_EXPIRED: true
    TENANTRY_INVALID_GRACE: true
  }
}

/** Options of `destroyTenant`. */
export interface DestroyTenantOptions {
  /**
   * Soft delete: hide the tenant now (for every process) and purge it once this many ms have
   * passed; `undestroyTenant` brings it back before then. Without it the tenant goes at once.
   */
  graceMs?: number | undefined
}

/** A soft-deleted tenant: hidden, its data kept until `purgeAt`. */
export interface DeletedTenant {
  tenant: string
  deletedAt: Date
  /** When the grace ends: from then on it can no longer be undone, and a purge removes it. */
  purgeAt: Date
}

/** What one purge of a soft-deleted tenant did. */
export interface PurgeResult {
  tenant: string
  purgeAt: Date
  /** Set when the purge failed; the others still ran. */
  error?: unknown
}

/** Options of `purgeExpired`. */
export interface PurgeExpiredOptions {
  /** The time the grace is measured against; default now (tests pass a later one). */
  now?: Date | undefined
}

/** Soft deletes of one store: hiding, undoing and purging (see `SoftDeleteBackend`). */
export interface SoftDeletes {
  /** Undoes a soft delete within its grace: the tenant is visible again, whole. Emits `undeleted`. */
  undestroyTenant(tenant: string): Promise<void>
  /** The soft-deleted tenants and their purge times, sorted by name. */
  listDeleted(): Promise<DeletedTenant[]>
  /** Purges every soft-deleted tenant whose grace has ended (like a destroy: `destroying`, `destroyed`). */
  purgeExpired(options?: PurgeExpiredOptions): Promise<PurgeResult[]>
}

/**
 * A backend's side of soft deletes. The mark must be one atomic step that every process sees
 * (a tombstone file renamed into place, a registry column), so a crash leaves the tenant
 * either fully visible or fully hidden.
 */
export interface SoftDeleteBackend {
  /** Marks the tenant deleted under its lock; `UnknownTenantError` when it is not there. */
  mark(tenant: string, deleted: DeletedTenant): Promise<void>
  /** Removes the mark under its lock after `check(mark)` passed; `TenantNotDeletedError` without one. */
  unmark(tenant: string, check: (deleted: DeletedTenant) => void): Promise<void>
  /** The tenant's mark, if it is soft-deleted. */
  get(tenant: string): Promise<DeletedTenant | undefined>
  /** Every mark of the store. */
  list(): Promise<DeletedTenant[]>
  /** Removes a marked tenant like a hard destroy (data, then the mark; `destroyed` fires). */
  purge(tenant: string): Promise<void>
}

/** A name is held by a soft-deleted tenant: it cannot be created or restored over until purged. */
export class TenantDeletedError extends TenantryError {
  readonly tenant: string
  readonly purgeAt: Date

  constructor(tenant: string, purgeAt: Date) {
    super(
      'TENANTRY_TENANT_DELETED',
      `Tenant "${tenant}" was soft-deleted and its name is held until ${purgeAt.toISOString()}. Undo the delete (\`tenantry restore ${tenant}\`) or purge it first (\`tenantry destroy ${tenant} --yes\`).`,
    )
    this.tenant = tenant
    this.purgeAt = purgeAt
  }
}

/** `undestroyTenant` found no soft delete to undo. */
export class TenantNotDeletedError extends TenantryError {
  readonly tenant: string

  constructor(tenant: string) {
    super(
      'TENANTRY_TENANT_NOT_DELETED',
      `Tenant "${tenant}" is not soft-deleted, so there is nothing to undo (\`tenantry list --deleted\` shows what is).`,
    )
    this.tenant = tenant
  }
}

/** `undestroyTenant` came after the grace: the purge is due and can no longer be undone. */
export class GraceExpiredError extends TenantryError {
  readonly tenant: string

  constructor(tenant: string, purgeAt: Date) {
    super(
      'TENANTRY_GRACE_EXPIRED',
      `The grace of tenant "${tenant}" ended at ${purgeAt.toISOString()}; it is due to be purged and can no longer be restored (except from a backup).`,
    )
    this.tenant = tenant
  }
}

/** `graceMs` was not a positive finite number of milliseconds. */
export class InvalidGraceError extends TenantryError {
  constructor(value: unknown) {
    super(
      'TENANTRY_INVALID_GRACE',
      `graceMs must be a positive number of milliseconds, not ${String(value)}.`,
    )
  }
}

/** What the soft-delete operations need from a store (the base store provides it). */
export interface SoftDeleteHost {
  readonly lifecycle: TenantLifecycle
  backend(): SoftDeleteBackend
  validate(tenant: string): string
  exists(tenant: string): boolean | Promise<boolean>
  /** Runs `fn` with the tenant hidden in this process after `deleting` and its release. */
  hiding(tenant: string, purgeAt: Date, fn: () => Promise<void>): Promise<void>
  /** Drops the cached existence answer of the tenant. */
  forget(tenant: string): void
}

/** Soft-deletes `tenant` for `graceMs`: `deleting` (may abort), the mark, then `deleted`. */
export async function softDestroy(
  host: SoftDeleteHost,
  tenant: string,
  graceMs: number,
): Promise<DeletedTenant> {
  if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs <= 0)
    throw new InvalidGraceError(graceMs)
  host.validate(tenant)
  const backend = host.backend()
  if (!(await host.exists(tenant))) throw new UnknownTenantError(tenant)
  const deletedAt = new Date()
  const mark: DeletedTenant = {
    tenant,
    deletedAt,
    purgeAt: new Date(deletedAt.getTime() + graceMs),
  }
  await host.hiding(tenant, mark.purgeAt, () => backend.mark(tenant, mark))
  await host.lifecycle.emit('deleted', { tenant, purgeAt: mark.purgeAt })
  return mark
}

/** Undoes a soft delete of `tenant` within its grace (see {@link SoftDeletes}). */
export async function undestroy(host: SoftDeleteHost, tenant: string): Promise<void> {
  host.validate(tenant)
  const backend = host.backend()
  await backend.unmark(tenant, (d) => {
    if (d.purgeAt.getTime() <= Date.now()) throw new GraceExpiredError(tenant, d.purgeAt)
  })
  host.forget(tenant)
  await host.lifecycle.emit('undeleted', { tenant })
}

/** Purges the soft-deleted tenants whose grace ended by `now`, one after another. */
export async function purgeExpired(
  host: SoftDeleteHost,
  options: PurgeExpiredOptions = {},
): Promise<PurgeResult[]> {
  const now = (options.now ?? new Date()).getTime()
  const backend = host.backend()
  const results: PurgeResult[] = []
  for (const d of await backend.list()) {
    if (d.purgeAt.getTime() > now) continue
    const result: PurgeResult = { tenant: d.tenant, purgeAt: d.purgeAt }
    try {
      await backend.purge(d.tenant)
    } catch (error) {
      result.error = error
    }
    results.push(result)
  }
  return results
}
