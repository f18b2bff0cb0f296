// Tenant-qualified references, and the error for anything used in a tenant not its own.
import { NoTenantError, TenantryError } from './errors.js'
import type { Tenancy } from './tenancy.js'

// The default tenancy, as index.ts installs it (read lazily: index.ts imports this file).
const KEY = Symbol.for('tenantry.context.v1')
const shared = (): Tenancy => (globalThis as { [KEY]?: Tenancy })[KEY]!

declare module './errors.js' {
  interface TenantryErrorCodes {
    TENANTRY_WRONG_TENANT: true
    TENANTRY_INVALID_REF: true
  }
}

/**
 * Something that belongs to one tenant (a database handle, a transaction, a reference) was
 * used inside another tenant, or outside any. Handles: a programming error (500). References:
 * usually a client sent another tenant's id, so it answers 404, like a record that is not there.
 */
export class WrongTenantError extends TenantryError {
  /** The tenant the thing belongs to. */
  readonly tenant: string
  /** The tenant it was used in (`undefined`: outside any tenant). */
  readonly currentTenant: string | undefined

  constructor(what: string, tenant: string, currentTenant: string | undefined, status?: number) {
    super(
      'TENANTRY_WRONG_TENANT',
      `${what} belongs to tenant "${tenant}" but was used ${currentTenant === undefined ? 'outside any tenant' : `in tenant "${currentTenant}"`}. Get it again inside the tenant (getDb(), a fresh transaction), or resolve the reference where it belongs; admin code that really works across tenants says so with withoutTenantGuard().`,
    )
    this.tenant = tenant
    this.currentTenant = currentTenant
    // 404 for a reference (a client sent it); unset (500) for a handle (a programming error).
    if (status !== undefined) (this as { statusCode?: number }).statusCode = status
  }
}

/** A string is not a tenant reference (or not of the expected type). */
export class InvalidTenantRefError extends TenantryError {
  /** HTTP status: a malformed reference usually comes from a client. */
  override readonly statusCode = 400

  constructor(ref: unknown, reason: string) {
    super(
      'TENANTRY_INVALID_REF',
      `${JSON.stringify(String(ref)).slice(0, 80)} is not a valid tenant reference: ${reason}. Make references with tenantRef(type, id).`,
    )
  }
}

/** The parts of a tenant reference. */
export interface TenantRefParts {
  /** The tenant the record lives in. */
  readonly tenant: string
  /** The record's type (`'page'`). */
  readonly type: string
  /** The record's id, as text (`'42'`). */
  readonly id: string
}

const PREFIX = 'tref:'
const enc = encodeURIComponent

/**
 * A reference to a record that carries its tenant: `tenantRef('page', 42)` in tenant `acme` →
 * `'tref:acme:page:42'`. Jobs, realtime messages and URLs can carry it; resolving it
 * ({@link resolveTenantRef}) anywhere but in `acme` throws. Each part is URI-encoded (`:`
 * included), so the mapping is injective and the string is safe in a URL path segment.
 */
export function tenantRef(
  type: string,
  id: string | number | bigint,
  tenant: string = requireTenantOf(shared()),
): string {
  if (typeof type !== 'string' || type === '')
    throw new InvalidTenantRefError(type, 'the type must be a non-empty string')
  const text = String(id)
  if (text === '') throw new InvalidTenantRefError(id, 'the id must not be empty')
  return `${PREFIX}${enc(tenant)}:${enc(type)}:${enc(text)}`
}

/** Splits a reference into tenant, type and id, without checking the current tenant. */
export function parseTenantRef(ref: string): TenantRefParts {
  if (typeof ref !== 'string' || !ref.startsWith(PREFIX))
    throw new InvalidTenantRefError(ref, `it does not start with "${PREFIX}"`)
  const parts = ref.slice(PREFIX.length).split(':')
  if (parts.length !== 3 || parts.some((p) => p === ''))
    throw new InvalidTenantRefError(ref, 'it needs exactly a tenant, a type and an id')
  try {
    const [tenant, type, id] = parts.map(decodeURIComponent) as [string, string, string]
    return { tenant, type, id }
  } catch {
    throw new InvalidTenantRefError(ref, 'it has a malformed escape')
  }
}

/**
 * The id a reference names, checked against the current tenant: `WrongTenantError` (404) when
 * it belongs to another tenant, `NoTenantError` outside any, `InvalidTenantRefError` (400) when
 * malformed or of another `type` than expected.
 */
export function resolveTenantRef(ref: string, type?: string, tenancy: Tenancy = shared()): string {
  const parts = parseTenantRef(ref)
  if (type !== undefined && parts.type !== type)
    throw new InvalidTenantRefError(ref, `it names a "${parts.type}", not a "${type}"`)
  const current = tenancy.currentTenant()
  if (current === undefined) throw new NoTenantError('Resolving a tenant reference')
  if (current !== parts.tenant)
    throw new WrongTenantError(`The reference ${ref}`, parts.tenant, current, 404)
  return parts.id
}

function requireTenantOf(tenancy: Tenancy): string {
  const tenant = tenancy.currentTenant()
  if (tenant === undefined) throw new NoTenantError('tenantRef()')
  return tenant
}
