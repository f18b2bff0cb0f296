export type { MigrationsOption } from '@tenantry/kysely'

import {
  type Migration,
  type MigrationProvider,
  MigrationVersion,
  Migrator,
  migrateToLatest,
} from '@tenantry/kysely'
import type { Kysely } from 'kysely'
import { isFault } from './faults.js'
import { writeStamp } from './serving.js'

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
   * so a failure keeps nothing of the run. With `stamp`, that transaction also sets
   * `user_version` to it: the migrations, Kysely's record rows and the stamp commit together
   * (one commit per tenant instead of two), and a failed run leaves the old stamp. Returns the
   * names applied.
   */
  async migrate(db: Kysely<any>, who: string, stamp?: number): Promise<string[]> {
    try {
      const provider = stamp === undefined ? this.provider : stamping(this.provider, stamp)
      const applied = await migrateToLatest(new Migrator({ db, provider }), who)
      // Nothing ran, so nothing stamped (a set that only changed names still needs the stamp).
      if (stamp !== undefined && applied.length === 0) await writeStamp(db, stamp)
      return applied
    } catch (error) {
      // Contention, a read-only or full disk, a closed handle: not the migration's fault, so
      // not "the migration failed" either (the run was rolled back all the same).
      const cause = (error as { cause?: unknown }).cause
      if (isFault(cause)) throw cause
      throw error
    }
  }
}

/**
 * `provider` with each migration's `up` followed by the stamp, inside Kysely's transaction of
 * the run: whichever migration is the last to run leaves the final stamp, and a failure rolls
 * the stamp back with everything else (Kysely's Migrator cannot run inside a transaction of
 * ours, so the stamp joins its transaction instead).
 */
function stamping(provider: MigrationProvider, stamp: number): MigrationProvider {
  return {
    async getMigrations() {
      const all = await provider.getMigrations()
      const out: Record<string, Migration> = {}
      for (const [name, m] of Object.entries(all))
        out[name] = {
          ...m,
          async up(db) {
            await m.up(db)
            await writeStamp(db, stamp)
          },
        }
      return out
    },
  }
}
