import { TenantryError } from '@tenantry/context'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_SCHEMA_NAME: true
    TENANTRY_MOVE_FAILED: true
    TENANTRY_ROW_LEVEL_REFUSED: true
  }
}

/** A tenant's schema name is unusable: it clashes with another schema the store relies on. */
export class SchemaNameError extends TenantryError {
  /** The tenant whose schema name is unusable. */
  readonly tenant: string
  /** The schema name it would have had. */
  readonly schema: string

  constructor(tenant: string, schema: string, reason: string) {
    super(
      'TENANTRY_SCHEMA_NAME',
      `Tenant "${tenant}" would live in schema "${schema}", but ${reason}. Choose another tenant name or schemaPrefix.`,
    )
    this.tenant = tenant
    this.schema = schema
  }
}

/**
 * A shard move did not complete: the tenant stays on `from` with all its rows, and the copy on
 * `to` is removed (the cause says why: a busy move, a table the target lacks, a lost connection).
 */
export class TenantMoveError extends TenantryError {
  /** The tenant that was being moved. */
  readonly tenant: string
  /** The shard it stays on. */
  readonly from: string
  /** The shard it was being moved to. */
  readonly to: string

  constructor(tenant: string, from: string, to: string, reason: string, cause?: unknown) {
    super(
      'TENANTRY_MOVE_FAILED',
      `Tenant "${tenant}" was not moved from shard "${from}" to "${to}": ${reason}. It stays on "${from}" with all its rows.`,
      cause === undefined ? undefined : { cause },
    )
    this.tenant = tenant
    this.from = from
    this.to = to
  }
}

/**
 * Row-level mode refused something it cannot keep tenant-safe: a table without the tenant
 * column, an added column with an inline key (which cannot start with the tenant column), or a
 * streamed query outside a transaction (the tenant setting lives only in a transaction).
 */
export class RowLevelRefusedError extends TenantryError {
  constructor(message: string) {
    super('TENANTRY_ROW_LEVEL_REFUSED', `Row-level mode: ${message}`)
  }
}
