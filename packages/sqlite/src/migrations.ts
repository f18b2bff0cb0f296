export type { MigrationsOption } from '@tenantry/kysely'

import { MigrationVersion, Migrator, migrateToLatest } from '@tenantry/kysely'
import type { Kysely } from 'kysely'
import { isFault } from './faults.js'

/**
 * One migration set and its version stamp: a 31-bit hash of the sorted migration names, kept
 * in `PRAGMA user_version`. A handle whose stamp matches is current without reading the
 * migration table; any other value sends the opener to Kysely's `Migrator` for the details.
 */
export class MigrationSet extends MigrationVersion {
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
    try {
      return await migrateToLatest(new Migrator({ db, provider: this.provider }), who)
    } catch (error) {
      // Contention, a read-only or full disk, a closed handle: not the migration's fault, so
      // not "the migration failed" either (the run was rolled back all the same).
      const cause = (error as { cause?: unknown }).cause
      if (isFault(cause)) throw cause
      throw error
    }
  }
}
