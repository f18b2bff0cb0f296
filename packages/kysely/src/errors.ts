import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_TENANT_EXISTS: true
    TENANTRY_PENDING_MIGRATIONS: true
    TENANTRY_MIGRATION_FAILED: true
    TENANTRY_TENANT_BUSY: true
    TENANTRY_STORE_CLOSED: true
  }
}

/** `createTenant` found the tenant already there (pass `{ ifNotExists: true }` to accept that). */
export class TenantExistsError extends TenantryError {
  /** The tenant that already exists. */
  readonly tenant: string

  constructor(tenant: string) {
    super(
      'TENANTRY_TENANT_EXISTS',
      `Tenant "${tenant}" already exists. Use it as it is, destroy it first, or pass { ifNotExists: true } to createTenant.`,
    )
    this.tenant = tenant
  }
}

/** A tenant's schema is behind the migrations and the store does not migrate on open. */
export class PendingMigrationsError extends TenantryError {
  /** The tenant whose schema is behind. */
  readonly tenant: string
  /** Names of the migrations not applied yet. */
  readonly pending: readonly string[]

  constructor(tenant: string, pending: readonly string[]) {
    super(
      'TENANTRY_PENDING_MIGRATIONS',
      `Tenant "${tenant}" has ${pending.length} pending migration(s) (${pending.slice(0, 5).join(', ')}${pending.length > 5 ? ', ...' : ''}). Run migrateTenant / migrateAllTenants (or \`tenantry migrate --all\`), or set migrateOnOpen: true.`,
    )
    this.tenant = tenant
    this.pending = pending
  }
}

/** A migration threw; its transaction was rolled back, so nothing of the run was kept. */
export class MigrationFailedError extends TenantryError {
  /** The tenant (or `central`) being migrated. */
  readonly tenant: string
  /** The migration that threw, when known. */
  readonly migration: string | undefined

  constructor(tenant: string, migration: string | undefined, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause)
    super(
      'TENANTRY_MIGRATION_FAILED',
      `Migrating ${tenant === 'central' ? 'the central database' : `tenant "${tenant}"`} failed${migration ? ` in migration "${migration}"` : ''}: ${why}. Nothing of this run was kept; fix the migration and run it again.`,
      { cause },
    )
    this.tenant = tenant
    this.migration = migration
  }
}

/** Another process held the tenant's create/migrate/destroy lock for longer than allowed. */
export class TenantBusyError extends TenantryError {
  /** The tenant whose lock was held (`(registry)` / `(central)` for the store's own locks). */
  readonly tenant: string
  /** How long the caller waited (ms). */
  readonly timeoutMs: number

  constructor(tenant: string, timeoutMs: number) {
    super(
      'TENANTRY_TENANT_BUSY',
      `Tenant "${tenant}" is being created, migrated or destroyed by someone else and was still locked after ${timeoutMs} ms. Try again later or raise lockTimeoutMs.`,
    )
    this.tenant = tenant
    this.timeoutMs = timeoutMs
  }
}

/** A tenant database was opened through a store after its `close()`. */
export class StoreClosedError extends TenantryError {
  /** The tenant that was being opened. */
  readonly tenant: string

  constructor(tenant: string) {
    super(
      'TENANTRY_STORE_CLOSED',
      `Cannot open tenant "${tenant}": this tenant database store is closed. Make a new store (or stop using the old one after close()).`,
    )
    this.tenant = tenant
  }
}
