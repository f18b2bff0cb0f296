import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_ARCHIVE_INVALID: true
    TENANTRY_ARCHIVE_SCHEMA: true
  }
}

/** The `format` field of every tenantry archive's manifest. */
export const ARCHIVE_FORMAT = 'tenantry-archive'
/** The archive layout version this code writes and reads. */
export const ARCHIVE_VERSION = 1

/** Entry names inside the tar container. */
export const ENTRY = {
  manifest: 'manifest.json',
  checksums: 'checksums.json',
  /** A consistent copy of a SQLite database (backups of SQLite tenants). */
  database: 'database.sqlite3',
  rows: 'rows/',
  files: 'files/',
} as const

/**
 * The first entry of every archive: what it holds and the migration state of its rows, so an
 * importer can build the same schema before loading them.
 */
export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT
  version: typeof ARCHIVE_VERSION
  /** `backup` (may carry a database image for the same backend) or `export` (rows only). */
  kind: 'backup' | 'export'
  /** The tenant it was taken from. */
  tenant: string
  /** The backend it was taken from (`sqlite`, `postgres`). */
  backend: string
  /** When it was taken (ISO 8601). */
  createdAt: string
  /** Migrations applied to the tenant, in order. */
  migrations: string[]
  /** Tables whose rows follow, parents before children. */
  tables: string[]
  /** Set when {@link ENTRY.database} holds a database image instead of rows. */
  database?: 'sqlite'
  /** File sets that follow (`storage`). */
  fileSets: string[]
}

/** The last entry: a SHA-256 and size of every other entry and row counts, checked on import. */
export interface ArchiveChecksums {
  entries: Record<string, { size: number; sha256: string }>
  rows: Record<string, number>
  files: number
}

/** An archive is not a tenantry archive, is damaged, truncated, or names an unsafe path. */
export class ArchiveInvalidError extends TenantryError {
  constructor(message: string, options?: ErrorOptions) {
    super('TENANTRY_ARCHIVE_INVALID', `Invalid tenant archive: ${message}`, options)
  }
}

/** The archive's migrations do not fit the target store's (unknown names or another order). */
export class ArchiveSchemaError extends TenantryError {
  readonly tenant: string

  constructor(tenant: string, message: string) {
    super('TENANTRY_ARCHIVE_SCHEMA', message)
    this.tenant = tenant
  }
}

/** The backend an archive's rows are decoded for (what its driver can bind). */
export type ValueTarget = 'sqlite' | 'postgres'

/**
 * Encodes one column value as JSON: bytes, bigints and JSON objects carry a `$t` tag; dates
 * become ISO strings (SQLite keeps dates as text anyway).
 */
export function encodeValue(v: unknown): unknown {
  if (v === null || v === undefined) return null
  if (typeof v === 'bigint') return { $t: 'bigint', v: v.toString() }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array)
    return { $t: 'bytes', v: Buffer.from(v).toString('base64') }
  if (v instanceof Date) return v.toISOString()
  if (typeof v === 'object' && !Array.isArray(v)) return { $t: 'json', v }
  return v
}

/** The inverse of {@link encodeValue}, for what `target`'s driver binds. */
export function decodeValue(v: unknown, target: ValueTarget): unknown {
  if (typeof v === 'boolean' && target === 'sqlite') return v ? 1 : 0
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v
  const tagged = v as { $t?: unknown; v?: unknown }
  switch (tagged.$t) {
    case 'bigint': {
      const n = BigInt(String(tagged.v))
      return target === 'sqlite' ? n : n.toString()
    }
    case 'bytes':
      return Buffer.from(String(tagged.v), 'base64')
    case 'json':
      return JSON.stringify(tagged.v)
    default:
      throw new ArchiveInvalidError(`unknown value tag ${JSON.stringify(tagged.$t)}.`)
  }
}

/** Checks a relative path from an archive: no `..`, no absolute path, no empty segment. */
export function safeRelative(path: string): string {
  const parts = path.split('/')
  if (
    path === '' ||
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  )
    throw new ArchiveInvalidError(`unsafe path ${JSON.stringify(path)}.`)
  return path
}
