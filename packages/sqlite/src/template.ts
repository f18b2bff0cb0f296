import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
} from 'node:fs'
import { join } from 'node:path'
import type { MigrationVersion } from '@tenantry/kysely'
import { Migrator, migrateToLatest } from '@tenantry/kysely'
import { kyselyOver, openFile } from './connection.js'
import { guarded } from './guard.js'
import { lockFile, sqliteSidecars, tempFile } from './layout.js'
import { unlinkQuiet, withFileLock } from './lock.js'

/** Where the template of migration stamp `stamp` lives under `root`. */
export function templatePath(root: string, stamp: number): string {
  return join(root, '.tenantry', 'templates', `${stamp}.sqlite3`)
}

/** What {@link ensureTemplate} needs. */
export interface TemplateOptions {
  root: string
  migrations: MigrationVersion
  busyTimeoutMs: number
  lockTimeoutMs: number
}

/**
 * The pre-migrated template database for the current migration set, built once (under a
 * cross-process lock, in a temp file renamed into place) and reused by every create until the
 * migrations change: a new tenant is then a file copy instead of a replay of every migration.
 * Templates of older stamps are left for `tenantry doctor` to remove.
 */
export async function ensureTemplate(options: TemplateOptions): Promise<string> {
  const stamp = await options.migrations.version()
  const file = templatePath(options.root, stamp)
  if (existsSync(file)) return file
  mkdirSync(join(file, '..'), { recursive: true })
  await withFileLock(lockFile(file), 'template', options.lockTimeoutMs, async () => {
    if (existsSync(file)) return
    const tmp = tempFile(file)
    for (const f of [tmp, ...sqliteSidecars(tmp)]) unlinkQuiet(f)
    try {
      const raw = openFile(tmp, options.busyTimeoutMs, { mustExist: false })
      try {
        raw.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF')
        await migrateToLatest(
          new Migrator({
            db: kyselyOver(guarded(raw, false), undefined, { template: stamp }),
            provider: options.migrations.provider,
          }),
          'template',
        )
        raw.pragma(`user_version = ${stamp}`)
        raw.pragma('journal_mode = WAL')
        raw.pragma('wal_checkpoint(TRUNCATE)')
      } finally {
        raw.close()
      }
      fsync(tmp)
      renameSync(tmp, file)
    } catch (error) {
      for (const f of [tmp, ...sqliteSidecars(tmp)]) unlinkQuiet(f)
      throw error
    }
  })
  return file
}

/** Copies the template to `dest` (the tenant's `.creating` file). */
export function copyTemplate(template: string, dest: string): void {
  copyFileSync(template, dest)
}

function fsync(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
