/**
 * Every stable error code of tenantry, one key each. Each package adds its own codes by
 * declaration merging, so {@link TenantryErrorCode} is a closed union of all installed ones:
 *
 * ```ts
 * declare module '@tenantry/context' {
 *   interface TenantryErrorCodes { TENANTRY_CACHE_KEY: true }
 * }
 * ```
 *
 * Match on `error.code`, not on `instanceof`: two installed copies of a package have two copies
 * of each class, but the codes are the same. `docs/errors.md` lists every code.
 */
export interface TenantryErrorCodes {
  TENANTRY_NO_TENANT: true
  TENANTRY_TENANT_SWITCH: true
  TENANTRY_INVALID_TENANT_NAME: true
  TENANTRY_UNKNOWN_TENANT: true
  TENANTRY_UNKNOWN_RESOURCE: true
  TENANTRY_RESOURCE_NOT_READY: true
  TENANTRY_TENANT_IN_USE: true
  TENANTRY_CONFIG: true
  TENANTRY_TENANT_EXISTS: true
  TENANTRY_PENDING_MIGRATIONS: true
  TENANTRY_MIGRATION_FAILED: true
  TENANTRY_TENANT_BUSY: true
}

/** A stable tenantry error code: a key of {@link TenantryErrorCodes}. */
export type TenantryErrorCode = keyof TenantryErrorCodes & string

/** Base class of every tenantry error: a message that says what to do and a stable `code`. */
export class TenantryError extends Error {
  /** Stable, machine-readable code (e.g. `TENANTRY_NO_TENANT`). */
  readonly code: TenantryErrorCode
  /** HTTP status for errors a request can cause (Fastify's error handler uses it); unset otherwise. */
  declare readonly statusCode?: number

  constructor(code: TenantryErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A tenant-only resource or `requireTenant()` was used outside any tenant. */
export class NoTenantError extends TenantryError {
  constructor(what = 'This code') {
    super(
      'TENANTRY_NO_TENANT',
      `${what} needs a current tenant, but none is active. Wrap the call in withTenant(name, fn) (or run it in a tenanted request or job).`,
    )
  }
}

/** Code inside tenant `from` tried to enter tenant `to` without `{ allowSwitch: true }`. */
export class TenantSwitchError extends TenantryError {
  /** The tenant that was active. */
  readonly from: string
  /** The tenant that was asked for. */
  readonly to: string

  constructor(from: string, to: string) {
    super(
      'TENANTRY_TENANT_SWITCH',
      `Cannot switch from tenant "${from}" to "${to}" inside a tenant. Pass { allowSwitch: true } to withTenant if this code really works across tenants (an admin tool, an iteration helper).`,
    )
    this.from = from
    this.to = to
  }
}

/** A tenant name broke the naming rule; raised before any file or resource is touched. */
export class InvalidTenantNameError extends TenantryError {
  /** The rejected name (as given). */
  readonly tenant: unknown

  constructor(tenant: unknown, reason: string) {
    super(
      'TENANTRY_INVALID_TENANT_NAME',
      `Invalid tenant name ${JSON.stringify(String(tenant)).slice(0, 80)}: ${reason}.`,
    )
    this.tenant = tenant
  }
}

/** The tenant source says this tenant does not exist. */
export class UnknownTenantError extends TenantryError {
  /** The tenant that was asked for. */
  readonly tenant: string

  constructor(tenant: string) {
    super(
      'TENANTRY_UNKNOWN_TENANT',
      `Tenant "${tenant}" does not exist. Create it first (createTenant) or check the name.`,
    )
    this.tenant = tenant
  }
}

/** A getter asked for a resource that was never defined. */
export class UnknownResourceError extends TenantryError {
  /** The resource name. */
  readonly resource: string

  constructor(resource: string) {
    super(
      'TENANTRY_UNKNOWN_RESOURCE',
      `No resource "${resource}" is configured. Register it with configureTenancy({ resources: { ${resource}: { ... } } }) or defineResource("${resource}", ...).`,
    )
    this.resource = resource
  }
}

/** A lazy resource's factory returned a promise, so a synchronous getter cannot hand it out. */
export class ResourceNotReadyError extends TenantryError {
  constructor(resource: string, tenant: string) {
    super(
      'TENANTRY_RESOURCE_NOT_READY',
      `Resource "${resource}" of tenant "${tenant}" is created asynchronously and is not ready yet. Declare it with { eager: true } so withTenant opens it before your code runs.`,
    )
  }
}

/** A tenant's instances were still in use when the caller needed them closed. */
export class TenantInUseError extends TenantryError {
  constructor(tenant: string, timeoutMs: number) {
    super(
      'TENANTRY_TENANT_IN_USE',
      `Tenant "${tenant}" is still in use after ${timeoutMs} ms: some withTenant scope has not finished. Finish or cancel that work first, or raise the timeout.`,
    )
  }
}

/** Invalid configuration passed to configureTenancy / defineResource. */
export class TenancyConfigError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_CONFIG', message)
  }
}

/** True when `error` is a tenantry error (from any installed copy), optionally of one `code`. */
export function isTenantryError(error: unknown, code?: TenantryErrorCode): error is TenantryError {
  if (typeof error !== 'object' || error === null) return false
  const c = (error as { code?: unknown }).code
  return typeof c === 'string' && c.startsWith('TENANTRY_') && (code === undefined || c === code)
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
  constructor(tenant: string, timeoutMs: number) {
    super(
      'TENANTRY_TENANT_BUSY',
      `Tenant "${tenant}" is being created, migrated or destroyed by someone else and was still locked after ${timeoutMs} ms. Try again later or raise lockTimeoutMs.`,
    )
  }
}
