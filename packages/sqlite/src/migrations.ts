export type { MigrationsOption } from '@tenantry/kysely'

import { MigrationVersion, migrateToLatest } from '@tenantry/kysely'
import { type Kysely, Migrator } from 'kysely'

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
    return migrateToLatest(new Migrator({ db, provider: this.provider }), who)
  }
}
