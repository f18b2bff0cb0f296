import { TenantryError } from '@tenantry/context'
import { type MigrationProvider, type Migrator, NO_MIGRATIONS } from './migrator.js'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_ROLLBACK_REFUSED: true
    TENANTRY_ROLLBACK_FAILED: true
    TENANTRY_OPERATION_UNSUPPORTED: true
  }
}

/** A rollback was refused before anything ran (a migration has no `down`, too many steps). */
export class RollbackRefusedError extends TenantryError {
  readonly tenant: string

  constructor(tenant: string, message: string) {
    super('TENANTRY_ROLLBACK_REFUSED', message)
    this.tenant = tenant
  }
}

/** A `down` migration threw; the migrations undone before it stay undone. */
export class RollbackFailedError extends TenantryError {
  readonly tenant: string

  constructor(tenant: string, migration: string | undefined, cause: unknown) {
    super(
      'TENANTRY_ROLLBACK_FAILED',
      `Rolling back tenant "${tenant}" failed in migration "${migration ?? '?'}": ${cause instanceof Error ? cause.message : String(cause)}. Fix its down() and run the rollback again.`,
      { cause },
    )
    this.tenant = tenant
  }
}

/**
 * Undoes the last `steps` applied migrations with their `down` functions (Kysely's
 * `migrateTo`), refusing up front when one of them has no `down` (Kysely would skip it and
 * keep it applied). Returns the names undone, newest first.
 */
export async function rollbackMigrations(
  migrator: Pick<Migrator, 'getMigrations' | 'migrateTo'>,
  provider: MigrationProvider,
  steps: number,
  tenant: string,
): Promise<string[]> {
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new RollbackRefusedError(tenant, 'Rollback steps must be a whole number of at least 1.')
  const infos = await migrator.getMigrations()
  const applied = infos.filter((m) => m.executedAt !== undefined).map((m) => m.name)
  if (applied.length === 0) return []
  const undo = applied.slice(-steps).reverse()
  const all = await provider.getMigrations()
  const missing = undo.filter((n) => typeof all[n]?.down !== 'function')
  if (missing.length > 0)
    throw new RollbackRefusedError(
      tenant,
      `Cannot roll back tenant "${tenant}": migration ${missing.join(', ')} has no down(); nothing was undone.`,
    )
  const keep = applied.slice(0, applied.length - undo.length)
  const { error, results } = await migrator.migrateTo(keep.at(-1) ?? NO_MIGRATIONS)
  if (error !== undefined)
    throw new RollbackFailedError(
      tenant,
      results?.find((r) => r.status === 'Error')?.migrationName,
      error,
    )
  return undo
}

/**
 * A store without this operation (PostgreSQL's row-level and sharded stores, for now). It
 * concerns the store, not one tenant.
 */
export class OperationUnsupportedError extends TenantryError {
  constructor(store: string, operation: string) {
    super(
      'TENANTRY_OPERATION_UNSUPPORTED',
      `The ${store} store cannot ${operation} yet; use a schema-per-tenant PostgreSQL or a SQLite store for it (or pg_dump).`,
    )
  }
}
