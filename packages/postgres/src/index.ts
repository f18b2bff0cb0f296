/**
 * @tenantry/postgres — the tenant-database interface of `@tenantry/sqlite` on PostgreSQL: one
 * schema per tenant, one shared `pg.Pool`, queries scoped with Kysely's `withSchema`, a tenant
 * registry, per-schema migrations and advisory locks.
 */

export {
  type EachTenantDbOptions,
  type MigrationsOption,
  migrationStamp,
  type TenantDatabaseStore,
  type WithTransactionOptions,
  withTransaction,
} from '@tenantry/kysely'
export {
  MigrationFailedError,
  PendingMigrationsError,
  SchemaNameError,
  TenantBusyError,
  TenantExistsError,
} from './errors.js'
export { MAX_IDENTIFIER_BYTES, quoteIdent, schemaFor } from './naming.js'
export {
  createPostgresTenantDatabases,
  type PostgresTenantDatabases,
  type PostgresTenantDatabasesOptions,
} from './tenant-databases.js'
