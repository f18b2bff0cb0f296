import { createHash } from 'node:crypto'
import { TenancyConfigError } from '@tenantry/context'

/** PostgreSQL's identifier limit (NAMEDATALEN - 1): longer names are silently truncated. */
export const MAX_IDENTIFIER_BYTES = 63

const PREFIX = /^[a-z_][a-z0-9_]*$/

/** Checks a schema prefix: a plain lower-case identifier, not `pg_`, short enough to leave room. */
export function checkPrefix(prefix: string): string {
  if (!PREFIX.test(prefix))
    throw new TenancyConfigError(
      `schemaPrefix ${JSON.stringify(prefix)} must be a non-empty lower-case identifier (letters, digits, _), so that no tenant can be named like a system or application schema.`,
    )
  if (prefix.startsWith('pg_'))
    throw new TenancyConfigError('schemaPrefix must not start with "pg_" (reserved by PostgreSQL).')
  if (prefix.length > 40)
    throw new TenancyConfigError('schemaPrefix is longer than 40 bytes; keep it short.')
  return prefix
}

/** Checks a fixed schema name (registry, central). */
export function checkSchema(name: string, option: string): string {
  if (!PREFIX.test(name) || name.startsWith('pg_') || name.length > MAX_IDENTIFIER_BYTES)
    throw new TenancyConfigError(
      `${option} ${JSON.stringify(name)} must be a lower-case identifier (letters, digits, _) of at most 63 bytes, not starting with "pg_".`,
    )
  return name
}

/**
 * The schema of a validated tenant: `prefix + tenant`, verbatim (so `-` stays `-`, legal inside
 * a quoted identifier, and the mapping is injective). When that exceeds 63 bytes, the name is
 * cut and a hash of the whole tenant appended, because PostgreSQL would otherwise truncate it
 * silently and two long tenants could share a schema; the registry's primary key on the schema
 * name refuses the (practically impossible) remaining collision.
 */
export function schemaFor(prefix: string, tenant: string): string {
  const full = prefix + tenant
  if (Buffer.byteLength(full) <= MAX_IDENTIFIER_BYTES) return full
  const hash = createHash('sha256').update(tenant).digest('hex').slice(0, 16)
  let head = full
  while (Buffer.byteLength(head) > MAX_IDENTIFIER_BYTES - 17) head = head.slice(0, -1)
  return `${head}~${hash}`
}

/** Quotes an identifier for PostgreSQL (`"` doubled). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * The 64-bit advisory-lock key of a schema: FNV-1a over `registry \0 schema`, as a signed
 * bigint string. Computed in JS so every process and every PostgreSQL version agrees.
 */
export function advisoryKey(registry: string, schema: string): string {
  let h = 0xcbf29ce484222325n
  for (const byte of Buffer.from(`tenantry\0${registry}\0${schema}`)) {
    h ^= BigInt(byte)
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn
  }
  return BigInt.asIntN(64, h).toString()
}
