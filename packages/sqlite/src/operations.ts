import { join } from 'node:path'
import {
  type ArchiveBackend,
  type MigrationVersion,
  Migrator,
  migrationStamp,
  rollbackMigrations,
} from '@tenantry/kysely'
import { sqliteArchiveBackend } from './archive.js'
import { kyselyOver, openFile } from './connection.js'
import { guarded } from './guard.js'
import type { MigrationSet } from './migrations.js'
import { copyTemplate, ensureTemplate } from './template.js'

/** What the SQLite store hands its operations. */
export interface SqliteOperationsOptions {
  root: string
  migrations: MigrationSet
  busyTimeoutMs: number
  lockTimeoutMs: number
  /** The tenant's database file (validated name). */
  file(tenant: string): string
  /** Hides `tenant` and closes its handles; returns the unhide function. */
  hide(tenant: string): Promise<() => void>
}

/**
 * The SQLite store's tenant operations beyond the lifecycle, kept out of the store class:
 * archives (backups, restores, exports, imports), rollbacks and template creates.
 */
export class SqliteOperations {
  /** Where snapshots are copied while archives are written: beside the data, same disk. */
  readonly scratchDir: string

  constructor(private readonly o: SqliteOperationsOptions) {
    this.scratchDir = join(o.root, '.tenantry', 'tmp')
  }

  /** The archive side of backups, restores, exports and imports. */
  archive(): ArchiveBackend {
    return sqliteArchiveBackend({
      file: (t) => this.o.file(t),
      migrations: this.o.migrations as MigrationVersion,
      tempDir: this.scratchDir,
      busyTimeoutMs: this.o.busyTimeoutMs,
      lockTimeoutMs: this.o.lockTimeoutMs,
      hide: (t) => this.o.hide(t),
    })
  }

  /**
   * Undoes the last `steps` migrations of the tenant in `file` (the caller holds its lock) and
   * stamps what is applied now, so opening the tenant reports the rest as pending.
   */
  async rollback(file: string, tenant: string, steps: number): Promise<string[]> {
    const raw = openFile(file, this.o.busyTimeoutMs, { mustExist: true })
    try {
      const db = kyselyOver(guarded(raw, false), undefined, { tenant })
      const provider = this.o.migrations.provider
      const undone = await rollbackMigrations(
        new Migrator({ db, provider }),
        provider,
        steps,
        tenant,
      )
      raw.pragma(`user_version = ${migrationStamp(await this.o.migrations.applied(db))}`)
      return undone
    } finally {
      raw.close()
    }
  }

  /** Writes a fully migrated database to `dest` by copying the template (built once). */
  async fromTemplate(dest: string): Promise<void> {
    copyTemplate(await ensureTemplate(this.o), dest)
  }
}
