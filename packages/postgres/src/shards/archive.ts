import { type ArchiveBackend, TenantExistsError, type TenantStage } from '@tenantry/kysely'
import type { Placement } from './placement.js'

/** What the sharded archive side needs from its store. */
export interface ShardedArchiveContext {
  placement: Placement
  /** The shard holding a ready tenant (throws `UnknownTenantError` otherwise). */
  shardOf(tenant: string): Promise<string>
  /** The placement policy's shard for a new tenant. */
  choose(tenant: string): Promise<string>
  /** The archive side of one shard's schema-per-tenant store. */
  backend(shard: string): ArchiveBackend
  /** Any shard's archive side (they share one migration set). */
  anyBackend(): ArchiveBackend
}

/**
 * The sharded store's side of backups, restores, exports and imports: each is the
 * schema-per-tenant operation on the shard holding the tenant. A restore into a new name
 * reserves a placement on the policy's shard first (not ready, so invisible), restores there in
 * one transaction, and marks the placement ready after its COMMIT; a failure or a kill leaves
 * only an unready reservation, which the next create or restore of the name reuses.
 */
export function shardedArchiveBackend(ctx: ShardedArchiveContext): ArchiveBackend {
  return {
    kind: 'postgres',
    migrationNames: () => ctx.anyBackend().migrationNames(),
    async snapshot(tenant, fn) {
      return await ctx.backend(await ctx.shardOf(tenant)).snapshot(tenant, fn)
    },
    async stage(tenant, manifest, options) {
      let row = await ctx.placement.get(tenant)
      if (row?.ready === true && !options.force) throw new TenantExistsError(tenant)
      row ??= await ctx.placement.reserve(tenant, await ctx.choose(tenant))
      const unplaced = !row.ready
      const forget = async () => {
        if (unplaced) await ctx.placement.remove(tenant, true).catch(() => {})
      }
      let inner: TenantStage
      try {
        // A copy on the shard that is not placed (an interrupted restore or move) is ours to replace.
        inner = await ctx
          .backend(row.shard)
          .stage(tenant, manifest, { force: options.force || unplaced })
      } catch (error) {
        await forget()
        throw error
      }
      return {
        rows: (table, rows) => inner.rows(table, rows),
        async commit(swapFiles) {
          try {
            await inner.commit(swapFiles)
          } catch (error) {
            await forget()
            throw error
          }
          if (unplaced) await ctx.placement.markReady(tenant)
        },
        async abort() {
          await inner.abort()
          await forget()
        },
      }
    },
  }
}
