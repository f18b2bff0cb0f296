import { MigrationFailedError } from './errors.js'
import type { Migration, MigrationProvider, MigrationResultSet, Migrator } from './migrator.js'

/** Migrations: a record of Kysely migrations by name, or any Kysely `MigrationProvider`. */
export type MigrationsOption = Record<string, Migration> | MigrationProvider

/** Normalises {@link MigrationsOption} into a provider. */
export function toProvider(migrations: MigrationsOption): MigrationProvider {
  if (typeof (migrations as MigrationProvider).getMigrations === 'function')
    return migrations as MigrationProvider
  const record = migrations as Record<string, Migration>
  return { getMigrations: async () => record }
}

/** FNV-1a over the sorted names, folded to a positive 31-bit integer that is never 0. */
export function migrationStamp(names: readonly string[]): number {
  let h = 0x811c9dc5
  const text = [...names].sort().join('\n')
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 1 || 1
}

/**
 * A migration set and its version stamp (a hash of the migration names). Backends keep the
 * stamp beside each tenant (SQLite's `user_version`, a registry row): a tenant whose stamp
 * matches is current without reading its migration table.
 */
export class MigrationVersion {
  /** The migrations as a Kysely provider. */
  readonly provider: MigrationProvider
  /** The stamp, once known (synchronously available after the first {@link version} call). */
  cached: number | undefined
  private pendingVersion: Promise<number> | undefined

  constructor(migrations: MigrationsOption) {
    this.provider = toProvider(migrations)
    if (typeof (migrations as MigrationProvider).getMigrations !== 'function')
      this.cached = migrationStamp(Object.keys(migrations))
  }

  /** The stamp of the current migration set. */
  version(): number | Promise<number> {
    if (this.cached !== undefined) return this.cached
    this.pendingVersion ??= this.provider.getMigrations().then((m) => {
      this.cached = migrationStamp(Object.keys(m))
      return this.cached
    })
    return this.pendingVersion
  }
}

/**
 * Runs `migrator.migrateToLatest()`, turning a failure into `MigrationFailedError` (naming the
 * migration that threw). Returns the names applied now.
 */
export async function migrateToLatest(
  migrator: Pick<Migrator, 'migrateToLatest'>,
  who: string,
): Promise<string[]> {
  const { error, results }: MigrationResultSet = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    throw new MigrationFailedError(who, failed, error)
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
