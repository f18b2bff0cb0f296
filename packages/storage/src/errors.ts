import { currentTenant, TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_STORAGE_PATH: true
    TENANTRY_STORAGE_NOT_FOUND: true
  }
}

/**
 * A storage key (or tenant name) would leave the tenant's root, or is malformed: `..`, an
 * absolute path, a backslash, NUL, an encoded or look-alike separator, a symlink, a hard link.
 * Raised before anything is read or written; the message says which rule it broke.
 */
export class StoragePathError extends TenantryError {
  /** 400: the key usually comes from a request (an upload name, a URL). */
  override readonly statusCode = 400
  /** The key as given (possibly truncated in the message). */
  readonly path: unknown
  /** Why it was refused, in words. */
  readonly reason: string

  constructor(path: unknown, reason: string) {
    super(
      'TENANTRY_STORAGE_PATH',
      `Refused storage path ${describe(path)}: ${reason}. Keys are relative, "/"-separated paths inside the tenant's files (e.g. "images/logo.png"); build them from trusted parts or sanitise user input first.`,
    )
    this.path = path
    this.reason = reason
  }
}

/** The key is valid but no file exists there. */
export class StorageNotFoundError extends TenantryError {
  /** 404: a request asked for a file that is not there. */
  override readonly statusCode = 404
  /** The key that was asked for. */
  readonly path: string
  /** The tenant whose storage was asked (the current tenant when it was raised), if any. */
  readonly tenant: string | undefined

  constructor(path: string, options?: ErrorOptions) {
    super(
      'TENANTRY_STORAGE_NOT_FOUND',
      `No file at ${describe(path)} in this tenant's storage. Check the key, or use exists() first.`,
      options,
    )
    this.path = path
    this.tenant = currentTenant()
  }
}

function describe(path: unknown): string {
  const s = typeof path === 'string' ? JSON.stringify(path) : String(path)
  return s.length > 120 ? `${s.slice(0, 117)}...` : s
}
