import type { BaseStoreOptions, TenantDatabaseStore } from '@tenantry/kysely'
import type { KyselyConfig, RawBuilder } from 'kysely'
import type pg from 'pg'

/** Options of {@link createPostgresRowLevelTenantDatabases}. */
export interface PostgresRowLevelOptions extends BaseStoreOptions {
  /** Connection string of the one shared pool (ignored when `pool` is given). */
  connectionString?: string
  /** A pool to share (this store never ends it). Its role must not be a superuser or `BYPASSRLS`. */
  pool?: pg.Pool
  /** Size of the pool this store makes; default 10. */
  poolMax?: number
  /** Schema of the shared tenant tables; default `tenant_rows`. */
  dataSchema?: string
  /** The column naming each row's tenant; default `tenant_id`. */
  tenantColumn?: string
  /** Schema of the tenant registry table `tenants`; default `tenantry`. */
  registrySchema?: string
  /** Schema of the central (untenanted) tables; default `public`. */
  centralSchema?: string
  /** Kysely's `log` option (tenant and central queries). */
  log?: KyselyConfig['log']
}

/** Tenants as rows of shared tables, kept apart by PostgreSQL row-level security. */
export interface PostgresRowLevelTenantDatabases<DB, CentralDB = unknown>
  extends TenantDatabaseStore<DB, CentralDB> {
  /** The one pool every tenant shares. */
  readonly pool: pg.Pool
  /** The schema of the shared tables. */
  readonly dataSchema: string
  /** A shared table, schema-qualified, for raw `sql` templates (row-level security still applies). */
  table(name: string): RawBuilder<unknown>
}
