import { TenantBusyError } from '@tenantry/kysely'
import type pg from 'pg'
import type { AdvisoryLocks } from './lock.js'
import { advisoryKey, quoteIdent } from './naming.js'

/** A tenant's row in the registry. */
export interface RegistryRow {
  ready: boolean
  migration_stamp: number | null
  /** Set while the tenant is soft-deleted: when its grace ends. */
  purge_at: Date | null
}

/** A soft-deleted tenant's row. */
export interface DeletedRow {
  tenant: string
  deleted_at: Date
  purge_at: Date
}

/** A pool or one of its clients (inside a locked transaction). */
type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient

/**
 * The tenant registry: table `tenants` in the registry schema, one row per tenant schema,
 * created on first use. A tenant exists for everyone once its row is `ready` (committed in the
 * same transaction as its schema and tables).
 */
export class Registry {
  /** The qualified table name. */
  readonly table: string
  private ready: Promise<void> | undefined

  constructor(
    private readonly pool: pg.Pool,
    /** The registry schema (also the namespace of every advisory-lock key). */
    readonly schema: string,
    private readonly prefix: string,
    private readonly locks: AdvisoryLocks,
    private readonly lockTimeoutMs: number,
  ) {
    this.table = `${quoteIdent(schema)}.tenants`
  }

  /** The row of `schemaName`, or undefined. */
  async row(schemaName: string, client?: pg.PoolClient): Promise<RegistryRow | undefined> {
    await this.ensure()
    const { rows } = await (client ?? this.pool).query<RegistryRow>(
      `select ready, migration_stamp, purge_at from ${this.table} where schema_name = $1`,
      [schemaName],
    )
    return rows[0]
  }

  /** Ready tenants of this store's prefix, sorted by code point. */
  async list(): Promise<string[]> {
    await this.ensure()
    const { rows } = await this.pool.query<{ tenant: string }>(
      `select tenant from ${this.table} where prefix = $1 and ready and purge_at is null order by tenant collate "C"`,
      [this.prefix],
    )
    return rows.map((r) => r.tenant)
  }

  /** Ready tenants of this prefix whose migration stamp is not `stamp` (one indexed scan). */
  async stale(stamp: number): Promise<string[]> {
    await this.ensure()
    const { rows } = await this.pool.query<{ tenant: string }>(
      `select tenant from ${this.table} where prefix = $1 and ready and purge_at is null and migration_stamp is distinct from $2`,
      [this.prefix, stamp],
    )
    return rows.map((r) => r.tenant)
  }

  /** Adds a row that is not ready yet (inside the creating transaction). */
  async insert(client: Queryable, schemaName: string, tenant: string): Promise<void> {
    await client.query(
      `insert into ${this.table} (schema_name, prefix, tenant, ready) values ($1, $2, $3, false)`,
      [schemaName, this.prefix, tenant],
    )
  }

  /** Marks the tenant ready at migration stamp `stamp`. */
  async markReady(client: Queryable, schemaName: string, stamp: number): Promise<void> {
    await client.query(
      `update ${this.table} set ready = true, migration_stamp = $2 where schema_name = $1`,
      [schemaName, stamp],
    )
  }

  /** Records the migration stamp a tenant is at now. */
  async stamp(client: Queryable, schemaName: string, stamp: number): Promise<void> {
    await client.query(`update ${this.table} set migration_stamp = $2 where schema_name = $1`, [
      schemaName,
      stamp,
    ])
  }

  /** Soft-deletes (`purgeAt` a date) or restores (`null`) the tenant: one row update. */
  async markDeleted(
    client: Queryable,
    schemaName: string,
    deleted: { at: Date; purgeAt: Date } | null,
  ): Promise<void> {
    await client.query(
      `update ${this.table} set deleted_at = $2, purge_at = $3 where schema_name = $1`,
      [schemaName, deleted?.at ?? null, deleted?.purgeAt ?? null],
    )
  }

  /** Soft-deleted tenants of this prefix (one, with `schemaName`). */
  async deleted(schemaName?: string): Promise<DeletedRow[]> {
    await this.ensure()
    const { rows } = await this.pool.query<DeletedRow>(
      `select tenant, deleted_at, purge_at from ${this.table} where prefix = $1 and ready and purge_at is not null${schemaName === undefined ? '' : ' and schema_name = $2'} order by tenant collate "C"`,
      schemaName === undefined ? [this.prefix] : [this.prefix, schemaName],
    )
    return rows
  }

  /** Drops the tenant's schema and its row (one transaction: gone for everyone at commit). */
  async remove(client: Queryable, schemaName: string): Promise<void> {
    await client.query(`drop schema if exists ${quoteIdent(schemaName)} cascade`)
    await client.query(`delete from ${this.table} where schema_name = $1`, [schemaName])
  }

  /** Creates the registry schema and table once (retried after a failure). */
  ensure(): Promise<void> {
    this.ready ??= this.create().catch((error: unknown) => {
      this.ready = undefined
      throw error
    })
    return this.ready
  }

  private async create(): Promise<void> {
    const { rows } = await this.pool.query<{ t: string | null }>('select to_regclass($1) as t', [
      this.table,
    ])
    if (rows[0]?.t != null) return await this.upgrade()
    // Concurrent `create ... if not exists` can still collide in PostgreSQL: serialise it.
    await this.locks.transaction(
      advisoryKey(this.schema, ''),
      async (client) => {
        await client.query(`create schema if not exists ${quoteIdent(this.schema)}`)
        await client.query(`create table if not exists ${this.table} (
          schema_name text primary key,
          prefix text not null,
          tenant text not null,
          ready boolean not null default false,
          migration_stamp integer,
          created_at timestamptz not null default now(),
          deleted_at timestamptz,
          purge_at timestamptz,
          unique (prefix, tenant)
        )`)
      },
      () => new TenantBusyError('(registry)', this.lockTimeoutMs),
    )
  }

  /** Adds the soft-delete columns to a registry made by an earlier release (once, locked). */
  private async upgrade(): Promise<void> {
    try {
      // A probe of the table itself, not of the catalog: one cheap query per process.
      await this.pool.query(`select purge_at from ${this.table} limit 0`)
      return
    } catch (error) {
      if ((error as { code?: string }).code !== '42703') throw error // 42703: no such column
    }
    await this.locks.transaction(
      advisoryKey(this.schema, ''),
      async (client) => {
        await client.query(
          `alter table ${this.table} add column if not exists deleted_at timestamptz, add column if not exists purge_at timestamptz`,
        )
      },
      () => new TenantBusyError('(registry)', this.lockTimeoutMs),
    )
  }
}
