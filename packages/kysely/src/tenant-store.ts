import type { TenantSource } from '@tenantry/context'
import type { DestroyTenantOptions } from './soft-delete.js'

/** Options of {@link TenantStore.createTenant}. */
export interface CreateTenantOptions {
  /** Return quietly when the tenant already exists (instead of `TenantExistsError`). */
  ifNotExists?: boolean | undefined
}

/** What one tenant's migration did. */
export interface TenantMigrationResult {
  tenant: string
  /** Names of the migrations applied now (empty when it was current). */
  applied: string[]
  /** Set when the migration failed; the other tenants still run. */
  error?: unknown
}

/** Progress of a migrate-all run, reported after each tenant. */
export interface MigrationProgress {
  done: number
  total: number
  result: TenantMigrationResult
}

/** Options of {@link TenantStore.migrateAllTenants}. */
export interface MigrateAllOptions {
  /** How many tenants migrate at once; default 4. */
  concurrency?: number | undefined
  /** Called after each tenant (success or failure). */
  onProgress?: ((progress: MigrationProgress) => void) | undefined
}

/** Facts about one tenant's storage, for operators. */
export interface TenantInfo {
  tenant: string
  /** Where it lives: a file path, a schema name. */
  location: string
  /** Bytes on disk, when known. */
  size?: number
  /** Names of applied migrations, oldest first. */
  migrations: string[]
  /** Names of migrations not yet applied. */
  pending: string[]
}

/**
 * The tenant lifecycle every tenant-database backend implements (SQLite, PostgreSQL), so that
 * the CLI, the test helpers and applications work with either. It is also the core's tenant
 * source: `withTenant` calls {@link exists}, `withEachTenant` calls {@link list}.
 */
export interface TenantStore extends TenantSource {
  /** Creates and fully migrates a tenant; it becomes visible only when ready. */
  createTenant(tenant: string, options?: CreateTenantOptions): Promise<void>
  /**
   * Closes this process's handles and deletes the tenant and everything it owns; with
   * `{ graceMs }` it soft-deletes instead (hidden now, purged later; see `SoftDeletes`).
   * Without a grace, a soft-deleted tenant is purged at once.
   */
  destroyTenant(tenant: string, options?: DestroyTenantOptions): Promise<void>
  /**
   * True when the tenant exists and is ready. Synchronous when a recent positive answer is
   * cached (see `existsCacheMs`); `await` it either way.
   */
  exists(tenant: string): boolean | Promise<boolean>
  /** Ready tenants, sorted. */
  list(): Promise<string[]>
  /** Applies pending migrations to one tenant. */
  migrateTenant(tenant: string): Promise<TenantMigrationResult>
  /** Applies pending migrations to every tenant; one failure does not stop the others. */
  migrateAllTenants(options?: MigrateAllOptions): Promise<TenantMigrationResult[]>
  /** Facts about one tenant. */
  tenantInfo(tenant: string): Promise<TenantInfo>
  /** Closes every handle and pool this store opened. */
  close(): Promise<void>
}
