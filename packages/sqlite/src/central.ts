import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type Database from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { kyselyOver, openFile, type SqlLogger } from './connection.js'
import { unguarded } from './guard.js'
import { lockFile } from './layout.js'
import { withFileLock } from './lock.js'
import type { MigrationSet } from './migrations.js'
import { retryTransient, writeStamp } from './serving.js'

/** How the central database is opened: where, with which migrations and timeouts. */
export interface CentralOptions {
  root: string
  migrations: MigrationSet | undefined
  busyTimeoutMs: number
  lockTimeoutMs: number
  logger: SqlLogger | undefined
}

/**
 * The central (untenanted) database `root/central.sqlite3`: opened and migrated on its first
 * query, stamped in `user_version` like a tenant, migrated under its own file lock.
 */
export class SqliteCentral<CentralDB> {
  private readonly file: string
  private db: Kysely<CentralDB> | undefined

  constructor(private readonly options: CentralOptions) {
    this.file = join(options.root, 'central.sqlite3')
  }

  /** The Kysely instance (made once; the file opens on its first query). */
  get kysely(): Kysely<CentralDB> {
    this.db ??= kyselyOver<CentralDB>(
      // Kysely calls this factory once, on the first query.
      async () => {
        const raw = this.openRaw()
        try {
          await this.migrateOn(raw)
          // From here on the driver waits for locks, without blocking the event loop.
          raw.pragma('busy_timeout = 0')
        } catch (error) {
          raw.close()
          throw error
        }
        return unguarded(raw)
      },
      this.options.logger,
      { db: 'central' },
      { busyTimeoutMs: this.options.busyTimeoutMs },
    )
    return this.db
  }

  /** Applies pending central migrations now; returns their names. */
  async migrate(): Promise<string[]> {
    const raw = this.openRaw()
    try {
      return await this.migrateOn(raw)
    } finally {
      raw.close()
    }
  }

  /** Closes the instance (a later `kysely` makes a new one). */
  async close(): Promise<void> {
    await this.db?.destroy()
    this.db = undefined
  }

  private openRaw(): Database.Database {
    mkdirSync(this.options.root, { recursive: true })
    const raw = openFile(this.file, this.options.busyTimeoutMs, { mustExist: false })
    try {
      raw.pragma('journal_mode = WAL')
    } catch (error) {
      raw.close()
      throw error
    }
    return raw
  }

  private async migrateOn(raw: Database.Database): Promise<string[]> {
    const set = this.options.migrations
    if (set === undefined) return []
    const expected = await set.version()
    if (raw.pragma('user_version', { simple: true }) === expected) return []
    const { lockTimeoutMs, logger } = this.options
    return await withFileLock(lockFile(this.file), 'central', lockTimeoutMs, async () => {
      if (raw.pragma('user_version', { simple: true }) === expected) return []
      const db = kyselyOver(
        unguarded(raw, false),
        logger,
        { db: 'central' },
        {
          busyTimeoutMs: this.options.busyTimeoutMs,
          statementCache: 0,
        },
      )
      const applied = await retryTransient(() => set.migrate(db, 'central'))
      await writeStamp(db, expected)
      return applied
    })
  }
}
