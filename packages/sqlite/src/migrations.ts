import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
} from 'kysely'
import { MigrationFailedError } from './errors.js'

/** Migrations: a record of Kysely migrations by name, or any Kysely `MigrationProvider`. */
export type MigrationsOption = Record<string, Migration> | MigrationProvider

/** Normalises {@link MigrationsOption} into a provider. */
export function toProvider(migrations: MigrationsOption): MigrationProvider {
  if (typeof (migrations as MigrationProvider).getMigrations === 'function')
    return migrations as MigrationProvider
  const record = migrations as Record<string, Migration>
  return { getMigrations: async () => record }
}

/**
 * One migration set and its version stamp: a 31-bit hash of the sorted migration names, kept
 * in `PRAGMA user_version`. A handle whose stamp matches is current without reading the
 * migration table; any other value sends the opener to Kysely's `Migrator` for the details.
 */
export class MigrationSet {
  readonly provider: MigrationProvider
  /** The stamp, once known (synchronously available after the first {@link version} call). */
  cached: number | undefined
  private pendingVersion: Promise<number> | undefined

  constructor(migrations: MigrationsOption) {
    this.provider = toProvider(migrations)
    if (typeof (migrations as MigrationProvider).getMigrations !== 'function')
      this.cached = stamp(Object.keys(migrations))
  }

  /** The stamp of the current migration set. */
  version(): number | Promise<number> {
    if (this.cached !== undefined) return this.cached
    this.pendingVersion ??= this.provider.getMigrations().then((m) => {
      this.cached = stamp(Object.keys(m))
      return this.cached
    })
    return this.pendingVersion
  }

  /** Names of migrations not yet applied to `db`. */
  async pending(db: Kysely<any>): Promise<string[]> {
    const infos = await new Migrator({ db, provider: this.provider }).getMigrations()
    return infos.filter((m) => m.executedAt === undefined).map((m) => m.name)
  }

  /** Names of migrations applied to `db`, oldest first. */
  async applied(db: Kysely<any>): Promise<string[]> {
    const infos = await new Migrator({ db, provider: this.provider }).getMigrations()
    return infos.filter((m) => m.executedAt !== undefined).map((m) => m.name)
  }

  /**
   * Applies every pending migration in one transaction (the dialect reports transactional DDL),
   * so a failure keeps nothing of the run. Returns the names applied.
   */
  async migrate(db: Kysely<any>, who: string): Promise<string[]> {
    const migrator = new Migrator({ db, provider: this.provider })
    const { error, results }: MigrationResultSet = await migrator.migrateToLatest()
    if (error !== undefined) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName
      throw new MigrationFailedError(who, failed, error)
    }
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
  }
}

/** FNV-1a over the names, folded to a positive 31-bit integer that is never 0 (a fresh file). */
export function stamp(names: readonly string[]): number {
  let h = 0x811c9dc5
  const text = [...names].sort().join('\n')
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 1 || 1
}
