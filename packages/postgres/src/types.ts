import type { BaseStoreOptions, TenantDatabaseStore } from '@tenantry/kysely'
import type { KyselyConfig, RawBuilder } from 'kysely'
import type pg from 'pg'

/**
 * What every PostgreSQL store takes: the kit's {@link BaseStoreOptions} (defaults here: `cap`
 * 1000, no idle timeout: a handle is a view of one shared Kysely), the pool, the schema names.
 */
export interface PostgresStoreOptions extends BaseStoreOptions {
  /** Connection string of the one shared pool (ignored when `pool` is given). */
  connectionString?: string | undefined
  /** A pool to share (this store never ends it); default: a pool made from `connectionString`. */
  pool?: pg.Pool | undefined
  /** Size of the pool this store makes; default 10. */
  poolMax?: number | undefined
  /** Schema of the tenant registry table `tenants`; default `tenantry`. */
  registrySchema?: string | undefined
  /** Schema of the central (untenanted) tables; default `public`. */
  centralSchema?: string | undefined
  /** Kysely's `log` option (tenant and central queries). */
  log?: KyselyConfig['log'] | undefined
}

/** Options of {@link createPostgresTenantDatabases}: the common ones and the schema prefix. */
export interface PostgresTenantDatabasesOptions extends PostgresStoreOptions {
  /** Prefix of every tenant schema (a lower-case identifier, not `pg_`); default `t_`. */
  schemaPrefix?: string | undefined
}

/**
 * Per-tenant PostgreSQL schemas behind the same interface as `@tenantry/sqlite`'s
 * `TenantDatabases`: the tenant lifecycle, the `db` resource and the central schema.
 */
export interface PostgresTenantDatabases<DB, CentralDB = unknown>
  extends TenantDatabaseStore<DB, CentralDB> {
  /** The one pool every tenant shares. */
  readonly pool: pg.Pool
  /** The prefix of every tenant schema. */
  readonly schemaPrefix: string
  /** The tenant's schema name (validates the tenant name). */
  schemaOf(tenant: string): string
  /** The advisory-lock key (bigint as a string) taken while the tenant is created, migrated or destroyed. */
  lockKey(tenant: string): string
  /**
   * A schema-qualified table of the current tenant for raw `sql` templates, which Kysely's
   * `withSchema` does not rewrite: ``sql`select * from ${store.table('page')}` ``.
   */
  table(name: string): RawBuilder<unknown>
}
