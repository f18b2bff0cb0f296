import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_DB_BUSY: true
    TENANTRY_READ_ONLY: true
    TENANTRY_DISK_FULL: true
    TENANTRY_DB_IO: true
    TENANTRY_DB_CLOSED: true
    TENANTRY_TENANT_GONE: true
  }
}

const who = (tenant: string | undefined) =>
  tenant === undefined ? 'The database' : `Tenant "${tenant}"'s database`

/** Another connection held the write lock for longer than `busyTimeoutMs` (transient). */
export class DatabaseBusyError extends TenantryError {
  /** The tenant whose database was locked, if it was a tenant's. */
  readonly tenant: string | undefined
  override readonly statusCode = 503

  constructor(tenant: string | undefined, timeoutMs: number, options?: ErrorOptions) {
    super(
      'TENANTRY_DB_BUSY',
      `${who(tenant)} stayed write-locked by another connection for ${timeoutMs} ms. This is contention, not a bug in the statement: retry later, keep write transactions short, or raise busyTimeoutMs.`,
      options,
    )
    this.tenant = tenant
  }
}

/** The data root (or the database file) cannot be written: a read-only mount or permissions. */
export class ReadOnlyStorageError extends TenantryError {
  /** The tenant concerned, if any. */
  readonly tenant: string | undefined
  /** The path that could not be written. */
  readonly path: string | undefined
  /** Why, beyond "cannot be written" (for example: WAL needs its -shm file). */
  readonly reason: string | undefined
  override readonly statusCode = 503

  constructor(
    tenant: string | undefined,
    path: string | undefined,
    options?: ErrorOptions & { reason?: string | undefined },
  ) {
    super(
      'TENANTRY_READ_ONLY',
      `${who(tenant)} cannot be written${path === undefined ? '' : ` (${path})`}: the file system is read-only or the process lacks write permission${options?.reason ? `, and ${options.reason}` : ''}. Remount the data root read-write to create, migrate, destroy or write.`,
      options,
    )
    this.tenant = tenant
    this.path = path
    this.reason = options?.reason
  }
}

/** The disk (or the database's `max_page_count`) is full; the statement's transaction was undone. */
export class DiskFullError extends TenantryError {
  /** The tenant concerned, if any. */
  readonly tenant: string | undefined
  override readonly statusCode = 507

  constructor(tenant: string | undefined, options?: ErrorOptions) {
    super(
      'TENANTRY_DISK_FULL',
      `${who(tenant)} is full (the disk, or its max_page_count): the write was rolled back. Free disk space under the data root and retry.`,
      options,
    )
    this.tenant = tenant
  }
}

/** The operating system reported an I/O error on the database file. */
export class DatabaseIoError extends TenantryError {
  /** The tenant concerned, if any. */
  readonly tenant: string | undefined
  override readonly statusCode = 503

  constructor(tenant: string | undefined, options?: ErrorOptions) {
    super(
      'TENANTRY_DB_IO',
      `${who(tenant)} hit a disk I/O error. Check the disk and the kernel log; \`tenantry doctor\` lists damaged tenants.`,
      options,
    )
    this.tenant = tenant
  }
}

/** The handle was closed under a query (the store closed, or the handle was evicted). */
export class DatabaseClosedError extends TenantryError {
  /** The tenant concerned, if any. */
  readonly tenant: string | undefined
  override readonly statusCode = 503

  constructor(tenant: string | undefined, options?: ErrorOptions) {
    super(
      'TENANTRY_DB_CLOSED',
      `${who(tenant)} connection was closed while it was still in use (the store was closed or the handle disposed). Keep the store open until all work has finished; a new scope opens a new handle.`,
      options,
    )
    this.tenant = tenant
  }
}

/**
 * The tenant's file was destroyed (or replaced) by another process while this handle was open;
 * the write was refused so that nothing is acknowledged into a deleted file.
 */
export class TenantGoneError extends TenantryError {
  /** The tenant whose file went away. */
  readonly tenant: string
  override readonly statusCode = 409

  constructor(tenant: string) {
    super(
      'TENANTRY_TENANT_GONE',
      `Tenant "${tenant}" was destroyed or replaced by another process while this scope used it; nothing was written. Retry in a new scope: it opens the tenant's current file (or reports it unknown).`,
    )
    this.tenant = tenant
  }
}

const FAULTS = new Set([
  'TENANTRY_DB_BUSY',
  'TENANTRY_READ_ONLY',
  'TENANTRY_DISK_FULL',
  'TENANTRY_DB_IO',
  'TENANTRY_DB_CLOSED',
  'TENANTRY_TENANT_GONE',
])

/** True for the errors of this file: faults of the environment, never of a statement. */
export function isFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && FAULTS.has(code)
}

/** True for SQLite's `SQLITE_BUSY*` results (another connection holds the lock). */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/** True for errors a whole-transaction retry can cure (contention, never a bad statement). */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return isBusy(error) || code === 'TENANTRY_DB_BUSY'
}

/**
 * Turns SQLite's fault results into tenantry errors with their own codes (the original stays as
 * `cause`); statement errors (constraints, syntax) pass through unchanged.
 */
export function translateFault(error: unknown, tenant: string | undefined): unknown {
  if (error instanceof TenantryError) return error
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES')
      return new ReadOnlyStorageError(tenant, undefined, { cause: error })
    if (code === 'SQLITE_FULL' || code === 'ENOSPC')
      return new DiskFullError(tenant, { cause: error })
    if (code.startsWith('SQLITE_IOERR') || code === 'EIO')
      return new DatabaseIoError(tenant, { cause: error })
  }
  if (error instanceof TypeError && /database connection is not open/.test(error.message))
    return new DatabaseClosedError(tenant, { cause: error })
  if (error instanceof Error && /driver has already been destroyed/.test(error.message))
    return new DatabaseClosedError(tenant, { cause: error })
  return error
}
