import { UnknownTenantError } from '@tenantry/context'
import { type DeletedTenant, type SoftDeleteBackend, TenantNotDeletedError } from '@tenantry/kysely'
import type pg from 'pg'
import type { Registry } from './registry.js'

/** What soft deletes need from a registered store. */
export interface RegistrySoftDeleteContext {
  registry: Registry
  /** The tenant's registry key (validates the name). */
  key(tenant: string): string
  /** The tenant's advisory-locked transaction. */
  locked<R>(tenant: string, fn: (client: pg.PoolClient) => Promise<R>): Promise<R>
  /** The store's hard destroy: schema (or rows) and registry row in one transaction. */
  destroy(tenant: string): Promise<void>
}

/**
 * Soft deletes in the registry: `purge_at` on the tenant's row, set and cleared in its locked
 * transaction. Every process asks the registry, so the commit hides (or shows) the tenant for
 * all of them at once; a crash before the commit changes nothing. The purge is the hard
 * destroy, which removes the row with the data.
 */
export function registrySoftDeletes(ctx: RegistrySoftDeleteContext): SoftDeleteBackend {
  const { registry } = ctx
  const get = async (tenant: string): Promise<DeletedTenant | undefined> => {
    const [row] = await registry.deleted(ctx.key(tenant))
    return row === undefined ? undefined : toDeleted(row)
  }
  return {
    mark: (tenant, d) =>
      ctx.locked(tenant, async (client) => {
        const row = await registry.row(ctx.key(tenant), client)
        if (row?.ready !== true || row.purge_at !== null) throw new UnknownTenantError(tenant)
        await registry.markDeleted(client, ctx.key(tenant), { at: d.deletedAt, purgeAt: d.purgeAt })
      }),
    unmark: (tenant, check) =>
      ctx.locked(tenant, async (client) => {
        const row = await registry.row(ctx.key(tenant), client)
        if (row?.ready !== true) throw new UnknownTenantError(tenant)
        if (row.purge_at === null) throw new TenantNotDeletedError(tenant)
        const d = await get(tenant)
        check(d ?? { tenant, deletedAt: row.purge_at, purgeAt: row.purge_at })
        await registry.markDeleted(client, ctx.key(tenant), null)
      }),
    get,
    list: async () => (await registry.deleted()).map(toDeleted),
    purge: (tenant) => ctx.destroy(tenant),
  }
}

function toDeleted(row: { tenant: string; deleted_at: Date; purge_at: Date }): DeletedTenant {
  return { tenant: row.tenant, deletedAt: row.deleted_at, purgeAt: row.purge_at }
}
