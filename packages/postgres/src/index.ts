/**
 * @tenantry/postgres — the tenant-database interface of `@tenantry/sqlite` on PostgreSQL: one
 * schema per tenant, one shared `pg.Pool`, queries scoped with Kysely's `withSchema`, a tenant
 * registry, per-schema migrations and advisory locks.
 */

// The store kit's contract, errors and helpers (`withTransaction`, `TenantStore`, ...), so an
// application imports everything from the backend it uses.
export * from '@tenantry/kysely'
export { RowLevelRefusedError, SchemaNameError, TenantMoveError } from './errors.js'
export {
  ConnectionLostError,
  DatabaseFailoverError,
  faultOf,
  guardClient,
  guardPool,
  OutOfSharedMemoryError,
  type PostgresFault,
} from './faults.js'
export { MAX_IDENTIFIER_BYTES, quoteIdent, schemaFor } from './naming.js'
export { TENANT_SETTING, TenantColumnPlugin } from './row-level/plugin.js'
export { createPostgresRowLevelTenantDatabases } from './row-level/store.js'
export type {
  PostgresRowLevelOptions,
  PostgresRowLevelTenantDatabases,
} from './row-level/types.js'
export { leastTenants, type PlacementPolicy } from './shards/placement.js'
export {
  createShardedTenantDatabases,
  type ShardedTenantDatabases,
  type ShardedTenantDatabasesOptions,
  type ShardOption,
} from './shards/store.js'
export { createPostgresTenantDatabases } from './tenant-databases.js'
export type {
  PostgresStoreOptions,
  PostgresTenantDatabases,
  PostgresTenantDatabasesOptions,
} from './types.js'
