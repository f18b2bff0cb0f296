import { TenancyConfigError } from '@tenantry/context'
import { TenantBusyError } from '@tenantry/kysely'
import type pg from 'pg'
import { quoteIdent } from '../naming.js'

/** Where one tenant lives. */
export interface PlacementRow {
  shard: string
  ready: boolean
}

/** Chooses the shard of a new tenant from the number of tenants each shard holds now. */
export type PlacementPolicy = (
  tenant: string,
  tenantsPerShard: ReadonlyMap<string, number>,
) => string | Promise<string>

/** The default policy: the shard with the fewest tenants (ties: the first by name). */
export const leastTenants: PlacementPolicy = (_tenant, counts) => {
  let best: string | undefined
  for (const [shard, n] of [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    if (best === undefined || n < counts.get(best)!) best = shard
  if (best === undefined) throw new TenancyConfigError('leastTenants: no shards configured.')
  return best
}

/**
 * The placement table in the central database: `(prefix, tenant) → shard`, one row per tenant,
 * `ready` once the tenant's schema on its shard is complete. Every lookup is by primary key.
 */
export class Placement {
  /** The qualified table name. */
  readonly table: string
  private ready: Promise<void> | undefined

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly prefix: string,
  ) {
    this.table = `${quoteIdent(schema)}.placement`
  }

  /** Creates the schema and table once (retried after a failure). */
  ensure(): Promise<void> {
    this.ready ??= (async () => {
      const { rows } = await this.pool.query<{ t: string | null }>('select to_regclass($1) as t', [
        this.table,
      ])
      if (rows[0]?.t != null) return
      const client = await this.pool.connect()
      try {
        await client.query('begin')
        // Serialised, since concurrent `create … if not exists` can still collide.
        await client.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [this.table])
        await client.query(`create schema if not exists ${quoteIdent(this.schema)}`)
        await client.query(`create table if not exists ${this.table} (
          prefix text not null,
          tenant text not null,
          shard text not null,
          ready boolean not null default false,
          placed_at timestamptz not null default now(),
          primary key (prefix, tenant)
        )`)
        await client.query(
          `create index if not exists placement_shard on ${this.table} (prefix, shard)`,
        )
        await client.query('commit')
      } catch (error) {
        await client.query('rollback').catch(() => {})
        throw error
      } finally {
        client.release()
      }
    })().catch((error: unknown) => {
      this.ready = undefined
      throw error
    })
    return this.ready
  }

  /** The tenant's placement, or undefined. */
  async get(tenant: string): Promise<PlacementRow | undefined> {
    await this.ensure()
    const { rows } = await this.pool.query<PlacementRow>(
      `select shard, ready from ${this.table} where prefix = $1 and tenant = $2`,
      [this.prefix, tenant],
    )
    return rows[0]
  }

  /** Ready tenants, sorted by code point. */
  async list(): Promise<string[]> {
    await this.ensure()
    const { rows } = await this.pool.query<{ tenant: string }>(
      `select tenant from ${this.table} where prefix = $1 and ready order by tenant collate "C"`,
      [this.prefix],
    )
    return rows.map((r) => r.tenant)
  }

  /** Tenants per shard (every shard in `shards`, with 0 for the empty ones). */
  async counts(shards: readonly string[]): Promise<Map<string, number>> {
    await this.ensure()
    const { rows } = await this.pool.query<{ shard: string; n: string }>(
      `select shard, count(*)::text as n from ${this.table} where prefix = $1 group by shard`,
      [this.prefix],
    )
    const counts = new Map(shards.map((s) => [s, 0]))
    for (const r of rows) if (counts.has(r.shard)) counts.set(r.shard, Number(r.n))
    return counts
  }

  /** Places the tenant on `shard` unless it is placed already; returns where it is. */
  async reserve(tenant: string, shard: string): Promise<PlacementRow> {
    await this.ensure()
    await this.pool.query(
      `insert into ${this.table} (prefix, tenant, shard) values ($1, $2, $3) on conflict do nothing`,
      [this.prefix, tenant, shard],
    )
    const row = await this.get(tenant)
    // Only a destroy by another process between the two statements removes it.
    if (row === undefined) throw new TenantBusyError(tenant, 0)
    return row
  }

  /** Marks the tenant ready (its schema on its shard is complete). */
  async markReady(tenant: string): Promise<void> {
    await this.pool.query(
      `update ${this.table} set ready = true where prefix = $1 and tenant = $2`,
      [this.prefix, tenant],
    )
  }

  /** Forgets the tenant (after its schema is gone, or when creating it failed). */
  async remove(tenant: string, onlyIfNotReady = false): Promise<void> {
    await this.pool.query(
      `delete from ${this.table} where prefix = $1 and tenant = $2${onlyIfNotReady ? ' and not ready' : ''}`,
      [this.prefix, tenant],
    )
  }

  /** Moves the tenant from `from` to `to` in one statement; false when it was not on `from`. */
  async switch(tenant: string, from: string, to: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `update ${this.table} set shard = $4, placed_at = now() where prefix = $1 and tenant = $2 and shard = $3 and ready`,
      [this.prefix, tenant, from, to],
    )
    return rowCount === 1
  }
}
