/**
 * @tenantry/sqlite — one SQLite file per tenant through Kysely and better-sqlite3: create,
 * destroy, list and migrate tenants safely across processes, serve the current tenant's
 * database through `getDb()`, and run context-bound transactions.
 */

// The store kit's contract, errors and helpers (`withTransaction`, `TenantStore`, ...), so an
// application imports everything from the backend it uses.
export * from '@tenantry/kysely'
export type { SqlLogger } from './connection.js'
export { AttachRefusedError, TenantPathError } from './errors.js'
export {
  DatabaseBusyError,
  DatabaseClosedError,
  DatabaseIoError,
  DiskFullError,
  ReadOnlyStorageError,
  TenantGoneError,
} from './faults.js'
export { assertNoFileAccess } from './guard.js'
export { type BucketingOptions, DEFAULT_BUCKETED_PATH, DEFAULT_PATH } from './layout.js'
export type { ConnectionMemoryOptions } from './memory.js'
export type { MigrationsModule } from './migrate-workers.js'
export type { RepairFinding, RepairOptions } from './repair.js'
export {
  createTenantDatabases,
  type TenantDatabases,
  type TenantDatabasesOptions,
} from './tenant-databases.js'
