/**
 * @tenantry/kysely — the Kysely pieces every tenant-database backend shares: transactions
 * through the tenant context, and migration sets with version stamps.
 */
export {
  type MigrationsOption,
  MigrationVersion,
  migrateToLatest,
  migrationStamp,
  toProvider,
} from './migrations.js'
export type { EachTenantDbOptions, TenantDatabaseStore } from './store.js'
export { type WithTransactionOptions, withTransaction } from './transaction.js'
