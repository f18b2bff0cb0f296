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
  TENANTRY_SCOPE_ENDED: true
  TENANTRY_TENANT_IN_USE: true
  TENANTRY_CONFIG: true
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
  /** The tenant that was asked for (the same as {@link to}). */
  readonly tenant: string

  constructor(from: string, to: string) {
    super(
      'TENANTRY_TENANT_SWITCH',
      `Cannot switch from tenant "${from}" to "${to}" inside a tenant. Pass { allowSwitch: true } to withTenant if this code really works across tenants (an admin tool, an iteration helper).`,
    )
    this.from = from
    this.to = to
    this.tenant = to
  }
}

/** A tenant name broke the naming rule; raised before any file or resource is touched. */
export class InvalidTenantNameError extends TenantryError {
  /** 400: a request named a tenant the naming rule refuses. */
  override readonly statusCode = 400
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
  /** 404: a request named a tenant that does not exist. */
  override readonly statusCode = 404
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
  /** The resource name. */
  readonly resource: string
  /** The tenant whose instance was asked for. */
  readonly tenant: string

  constructor(resource: string, tenant: string) {
    super(
      'TENANTRY_RESOURCE_NOT_READY',
      `Resource "${resource}" of tenant "${tenant}" is created asynchronously and is not ready yet. Declare it with { eager: true } so withTenant opens it before your code runs.`,
    )
    this.resource = resource
    this.tenant = tenant
  }
}

/**
 * Code ran in a tenant scope that had already ended (a `bind()`/`snapshot()` callback, a late
 * timer) and asked for an eager resource whose instance was closed since (evicted or
 * refreshed). A synchronous getter cannot reopen it; reopening has started in the background.
 */
export class ScopeEndedError extends TenantryError {
  /** The resource name. */
  readonly resource: string
  /** The tenant of the ended scope. */
  readonly tenant: string

  constructor(resource: string, tenant: string) {
    super(
      'TENANTRY_SCOPE_ENDED',
      `Resource "${resource}" of tenant "${tenant}" was read by a callback that ran after its tenant scope ended, and that instance has been closed since. Re-enter the tenant in the callback (await withTenant(tenant, fn) reopens it), keep the scope open until the callback is done (await it inside withTenant, or use enterScope and close it afterwards), or finish the work before the scope ends.`,
    )
    this.resource = resource
    this.tenant = tenant
  }
}

/** A tenant's instances were still in use when the caller needed them closed. */
export class TenantInUseError extends TenantryError {
  /** 409: the tenant is busy (e.g. an admin request destroying a tenant still serving requests). */
  override readonly statusCode = 409
  /** The tenant still in use. */
  readonly tenant: string
  /** How long the caller waited (0: the caller itself is inside the tenant). */
  readonly timeoutMs: number

  constructor(tenant: string, timeoutMs: number) {
    super(
      'TENANTRY_TENANT_IN_USE',
      timeoutMs === 0
        ? `Tenant "${tenant}" cannot be released from inside its own scope. Call this outside withTenant("${tenant}", ...).`
        : `Tenant "${tenant}" is still in use after ${timeoutMs} ms: some withTenant scope has not finished. Finish or cancel that work first, or raise the timeout.`,
    )
    this.tenant = tenant
    this.timeoutMs = timeoutMs
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
