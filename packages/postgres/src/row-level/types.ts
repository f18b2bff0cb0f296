import type { TenantDatabaseStore } from '@tenantry/kysely'
import type { RawBuilder } from 'kysely'
import type pg from 'pg'
import type { PostgresStoreOptions } from '../types.js'

/**
 * Options of {@link createPostgresRowLevelTenantDatabases}: the common ones (the pool's role
 * must not be a superuser or `BYPASSRLS`: those bypass every policy) and where the rows live.
 */
export interface PostgresRowLevelOptions extends PostgresStoreOptions {
  /** Schema of the shared tenant tables; default `tenant_rows`. */
  dataSchema?: string | undefined
  /** The column naming each row's tenant; default `tenant_id`. */
  tenantColumn?: string | undefined
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
