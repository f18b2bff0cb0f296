import type { EachTenantOptions, ResourceDefinition, Tenancy } from '@tenantry/context'
import type { Kysely } from 'kysely'
import type { TenantOperations } from './operations.js'
import type { SoftDeletes } from './soft-delete.js'
import type { TenantStore } from './tenant-store.js'

/** Options of {@link TenantDatabaseStore.withEachTenant}: the core's, less `tenants` (every ready one). */
export type EachTenantDbOptions = Pick<EachTenantOptions, 'concurrency'>

/**
 * What every Kysely tenant-database backend offers beyond {@link TenantStore}: the `db`
 * resource, the central database, installation into a tenancy, and per-tenant iteration. The
 * SQLite and PostgreSQL stores extend it with what is theirs (a file path, a schema name).
 */
export interface TenantDatabaseStore<DB, CentralDB = unknown>
  extends TenantStore,
    TenantOperations,
    SoftDeletes {
  /** The `db` resource for the core: eager, capped, disposed with the tenant's handle. */
  readonly resource: ResourceDefinition<Kysely<DB>>
  /** The central (untenanted) database, migrated on its first query. */
  readonly central: Kysely<CentralDB>
  /** Registers `db` (and `centralDb`) and this store as the tenant source of `tenancy`. */
  install(tenancy?: Tenancy): this
  /** Runs `fn` inside every ready tenant; see `Tenancy.withEachTenant`. */
  withEachTenant<R>(
    fn: (tenant: string) => R | PromiseLike<R>,
    options?: EachTenantDbOptions,
  ): Promise<Awaited<R>[]>
  /** Applies pending central migrations now (they also run on the central's first query). */
  migrateCentral(): Promise<string[]>
}
