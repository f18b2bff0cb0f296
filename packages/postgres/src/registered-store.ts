import { type SoftDeleteBackend, TenantBusyError } from '@tenantry/kysely'
import type pg from 'pg'
import { faultError } from './faults.js'
import { advisoryKey } from './naming.js'
import { PostgresBaseStore } from './postgres-store.js'
import type { Registry, RegistryRow } from './registry.js'
import { registrySoftDeletes } from './soft-delete.js'

/**
 * A PostgreSQL store whose tenants are rows of a registry (schema per tenant, row-level): the
 * existence probe, the listing, and the tenant's advisory-locked transaction, keyed by what
 * the backend names a tenant by. Faults come out as their own errors.
 */
export abstract class RegisteredStore<DB, CentralDB> extends PostgresBaseStore<DB, CentralDB> {
  protected abstract readonly registry: Registry

  /** The tenant's registry key (a schema name, or a row-level key); validates the name. */
  protected abstract registryKey(tenant: string): string

  protected async probe(tenant: string): Promise<boolean> {
    const row = await this.row(tenant)
    return row?.ready === true && row.purge_at === null // soft-deleted rows are hidden
  }

  protected override softDeleteBackend(): SoftDeleteBackend {
    return registrySoftDeletes({
      registry: this.registry,
      key: (t) => this.registryKey(t),
      locked: (t, fn) => this.locked(t, fn, 'soft-deleting'),
      destroy: (t) => this.destroyTenant(t),
    })
  }

  protected listReady(): Promise<string[]> {
    return this.registry.list()
  }

  protected row(tenant: string, client?: pg.PoolClient): Promise<RegistryRow | undefined> {
    return this.registry.row(this.registryKey(tenant), client).catch((error: unknown) => {
      throw faultError(error, 'looking up', tenant) ?? error
    })
  }

  /**
   * Runs `fn` in a transaction holding the tenant's advisory lock (see `AdvisoryLocks`); a lost
   * connection, a failover or a full lock table come out as their own errors.
   */
  protected locked<R>(
    tenant: string,
    fn: (client: pg.PoolClient) => Promise<R>,
    what: string,
  ): Promise<R> {
    return this.locks
      .run(
        advisoryKey(this.registry.schema, this.registryKey(tenant)),
        fn,
        () => new TenantBusyError(tenant, this.lockTimeoutMs),
      )
      .catch((error: unknown) => {
        throw faultError(error, what, tenant) ?? error
      })
  }
}
