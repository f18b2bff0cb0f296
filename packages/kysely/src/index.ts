/**
 * @tenantry/kysely — the store kit: what every Kysely tenant-database backend shares. The
 * `TenantStore` contract and its types, the base store (options, installation, the existence
 * cache, listing, iteration, migrate-all, close), the store errors, the migrate-all loop,
 * migration sets with version stamps, and transactions through the tenant context.
 */

export * from './archive/index.js'
export { BACKUP_EXTENSION, backupPath, listBackups, pruneBackups } from './backup-dir.js'
export {
  type BaseStoreOptions,
  BaseTenantStore,
  type StoreDefaults,
} from './base-store.js'
export {
  MigrationFailedError,
  PendingMigrationsError,
  StoreClosedError,
  TenantBusyError,
  TenantExistsError,
} from './errors.js'
export {
  guardTenantDb,
  type TenantGuardOptions,
  TenantGuardPlugin,
  tenantGuard,
  withoutTenantGuard,
} from './guard-plugin.js'
export { migrateEachTenant } from './migrate-all.js'
export {
  type MigrationsOption,
  MigrationVersion,
  migrateToLatest,
  migrationStamp,
  toProvider,
} from './migrations.js'
export {
  type Migration,
  type MigrationInfo,
  type MigrationProvider,
  type MigrationResult,
  type MigrationResultSet,
  Migrator,
  type MigratorProps,
  NO_MIGRATIONS,
  type NoMigrations,
} from './migrator.js'
export {
  type ArchiveOptions,
  backupTenant,
  cloneTenant,
  type OperationsHost,
  purgeTenant,
  type RestoreOptions,
  type RestoreResult,
  restoreTenant,
  type TenantOperations,
  TenantStillExistsError,
} from './operations.js'
export { findPartialBackups, type PartialBackup } from './partial-backups.js'
export {
  OperationUnsupportedError,
  RollbackFailedError,
  RollbackRefusedError,
  rollbackMigrations,
} from './rollback.js'
export { ensureSeedsTable, runSeeds, SEEDS_TABLE, type Seed } from './seeds.js'
export { SoftDeletableStore } from './soft-deletable-store.js'
export {
  type DeletedTenant,
  type DestroyTenantOptions,
  GraceExpiredError,
  InvalidGraceError,
  type PurgeExpiredOptions,
  type PurgeResult,
  purgeExpired,
  type SoftDeleteBackend,
  type SoftDeleteHost,
  type SoftDeletes,
  softDestroy,
  TenantDeletedError,
  TenantNotDeletedError,
  undestroy,
} from './soft-delete.js'
export type { EachTenantDbOptions, TenantDatabaseStore } from './store.js'
export type {
  CreateTenantOptions,
  MigrateAllOptions,
  MigrationProgress,
  TenantInfo,
  TenantMigrationResult,
  TenantStore,
} from './tenant-store.js'
export { type WithTransactionOptions, withTransaction } from './transaction.js'
