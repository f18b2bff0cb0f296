import { randomBytes } from 'node:crypto'
import {
  closeSync,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { TenantryError } from '@tenantry/context'
import {
  type ArchiveBackend,
  type ArchiveManifest,
  ensureSeedsTable,
  type Migration,
  type MigrationVersion,
  Migrator,
  migrateToLatest,
  migrationStamp,
  SEEDS_TABLE,
  type TenantSnapshot,
  type TenantStage,
} from '@tenantry/kysely'
import Database from 'better-sqlite3'
import { kyselyOver, openFile } from './connection.js'
import { TenantExistsError } from './errors.js'
import { guarded } from './guard.js'
import { lockFile, sqliteSidecars } from './layout.js'
import { unlinkQuiet, withFileLock } from './lock.js'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_RESTORE_VERIFY: true
  }
}

/** A restored database failed its checks (integrity, migration stamp); nothing was replaced. */
export class RestoreVerifyError extends TenantryError {
  readonly tenant: string

  constructor(tenant: string, why: string) {
    super(
      'TENANTRY_RESTORE_VERIFY',
      `The restored database of "${tenant}" failed verification (${why}); nothing was changed. Restore from another backup.`,
    )
    this.tenant = tenant
  }
}

/** What the archive operations need from the SQLite store. */
export interface SqliteArchiveContext {
  /** The tenant's database file (validated name). */
  file(tenant: string): string
  /** The store's tenant migrations. */
  migrations: MigrationVersion
  /** Where snapshots are copied while an archive is written (same machine). */
  tempDir: string
  busyTimeoutMs: number
  lockTimeoutMs: number
  /** Hides `tenant` in this process and closes its handles; returns a function that unhides it. */
  hide(tenant: string): Promise<() => void>
}

const MIGRATION_TABLES = new Set(['kysely_migration', 'kysely_migration_lock'])
const BATCH = 500

/** The SQLite side of backups, restores, exports and imports. */
export function sqliteArchiveBackend(ctx: SqliteArchiveContext): ArchiveBackend {
  return {
    kind: 'sqlite',
    migrationNames: async () => Object.keys(await ctx.migrations.provider.getMigrations()).sort(),
    async snapshot(tenant, fn) {
      const file = ctx.file(tenant)
      mkdirSync(ctx.tempDir, { recursive: true })
      const copy = join(ctx.tempDir, `snapshot-${randomBytes(6).toString('hex')}.sqlite3`)
      try {
        await onlineBackup(file, copy, ctx.busyTimeoutMs)
        const raw = new Database(copy, { readonly: true, fileMustExist: true })
        try {
          return await fn(snapshotOf(raw, copy))
        } finally {
          raw.close()
        }
      } finally {
        for (const f of [copy, ...sqliteSidecars(copy)]) unlinkQuiet(f)
      }
    },
    stage: (tenant, manifest, options) => stage(ctx, tenant, manifest, options.force),
  }
}

/**
 * A consistent copy of a live database through SQLite's online backup API (better-sqlite3's
 * `db.backup()`). After the first step every step copies all remaining pages, so a write by
 * another connection restarts the copy at most into one more whole, consistent step.
 */
export async function onlineBackup(
  file: string,
  dest: string,
  busyTimeoutMs: number,
): Promise<void> {
  const raw = openFile(file, busyTimeoutMs, { mustExist: true })
  try {
    await raw.backup(dest, { progress: ({ totalPages }) => Math.max(totalPages, 100) })
  } finally {
    raw.close()
  }
}

function snapshotOf(raw: Database.Database, copy: string): TenantSnapshot {
  const names = (
    raw
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[]
  )
    .map((r) => r.name)
    .filter((n) => !MIGRATION_TABLES.has(n))
  const parents = new Map(
    names.map((n) => [
      n,
      (raw.prepare(`PRAGMA foreign_key_list(${quote(n)})`).all() as { table: string }[]).map(
        (r) => r.table,
      ),
    ]),
  )
  const hasMigrations = tableExists(raw, 'kysely_migration')
  return {
    migrations: hasMigrations
      ? (
          raw.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as { name: string }[]
        ).map((r) => r.name)
      : [],
    tables: parentsFirst(names, parents),
    async *rows(table) {
      let batch: Record<string, unknown>[] = []
      for (const row of raw
        .prepare(`SELECT * FROM ${quote(table)}`)
        .safeIntegers(true)
        .iterate()) {
        batch.push(unbig(row as Record<string, unknown>))
        if (batch.length === BATCH) {
          yield batch
          batch = []
        }
      }
      if (batch.length > 0) yield batch
    },
    image: async (dest) => {
      raw.close()
      renameSync(copy, dest)
    },
  }
}

async function stage(
  ctx: SqliteArchiveContext,
  tenant: string,
  manifest: ArchiveManifest,
  force: boolean,
): Promise<TenantStage> {
  const file = ctx.file(tenant)
  const staged = `${file}.restoring`
  const check = () => {
    if (!force && existsSync(file)) throw new TenantExistsError(tenant)
  }
  check()
  mkdirSync(dirname(file), { recursive: true })
  // Hold the tenant's lock from now until commit or abort: no create or destroy in between.
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  let entered!: () => void
  const ready = new Promise<void>((r) => (entered = r))
  const locked = withFileLock(lockFile(file), tenant, ctx.lockTimeoutMs, async () => {
    entered()
    await held
  })
  await Promise.race([ready, locked])
  let raw: Database.Database | undefined
  const drop = () => {
    if (raw?.open) raw.close()
    for (const f of [staged, ...sqliteSidecars(staged)]) unlinkQuiet(f)
  }
  try {
    check()
    drop() // a restorer that died here left its half-made file
    if (manifest.database === undefined) {
      raw = openFile(staged, ctx.busyTimeoutMs, { mustExist: false })
      raw.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF')
      const all = await ctx.migrations.provider.getMigrations()
      const some: Record<string, Migration> = {}
      for (const m of manifest.migrations) some[m] = all[m]!
      await migrateToLatest(
        new Migrator({
          db: kyselyOver(guarded(raw, false), undefined, { tenant }),
          provider: { getMigrations: async () => some },
        }),
        tenant,
      )
    }
  } catch (error) {
    drop()
    release()
    await locked.catch(() => {})
    throw error
  }
  const inserts = new Map<string, Database.Statement>()
  return {
    async database(image: Readable) {
      // Opened here, synchronously: a stream that opens its file later could re-create it after
      // a failed restore removed it.
      const fd = openSync(staged, 'w', 0o600)
      await pipeline(image, createWriteStream('', { fd }))
      raw = new Database(staged, { fileMustExist: true, timeout: ctx.busyTimeoutMs })
      raw.exec('PRAGMA foreign_keys = OFF')
      if (raw.pragma('user_version', { simple: true }) !== migrationStamp(manifest.migrations))
        throw new RestoreVerifyError(tenant, 'its migration stamp does not match its manifest')
    },
    async rows(table, rows) {
      const db = raw!
      const cols = Object.keys(rows[0] ?? {})
      const key = `${table}\0${cols.join('\0')}`
      let stmt = inserts.get(key)
      if (stmt === undefined) {
        // Made by seedTenant, not by a migration: the migrations alone do not recreate it.
        if (table === SEEDS_TABLE)
          await ensureSeedsTable(kyselyOver(guarded(db, false), undefined, {}))
        stmt = db.prepare(
          `INSERT INTO ${quote(table)} (${cols.map(quote).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
        )
        inserts.set(key, stmt)
      }
      const s = stmt
      db.transaction(() => {
        for (const row of rows) s.run(...cols.map((c) => row[c]))
      })()
    },
    async commit(swapFiles) {
      try {
        const db = raw!
        const target = await ctx.migrations.version()
        const kdb = kyselyOver(guarded(db, false), undefined, { tenant })
        await migrateToLatest(new Migrator({ db: kdb, provider: ctx.migrations.provider }), tenant)
        db.pragma(`user_version = ${target}`)
        const integrity = db.pragma('integrity_check', { simple: true })
        if (integrity !== 'ok')
          throw new RestoreVerifyError(tenant, `integrity_check: ${integrity}`)
        const broken = db.pragma('foreign_key_check') as unknown[]
        if (broken.length > 0)
          throw new RestoreVerifyError(tenant, `${broken.length} rows break a foreign key`)
        db.pragma('journal_mode = WAL')
        db.close()
        fsyncPath(staged)
        check()
        const replaced = `${file}.replaced`
        const unhide = existsSync(file) ? await ctx.hide(tenant) : undefined
        try {
          if (unhide !== undefined) {
            // The old database is discarded: its -wal and -shm go with it.
            renameSync(file, replaced)
            for (const f of sqliteSidecars(file)) unlinkQuiet(f)
          }
          await swapFiles()
          renameSync(staged, file)
          fsyncPath(dirname(file))
          unlinkQuiet(replaced)
        } finally {
          unhide?.()
        }
      } catch (error) {
        drop()
        throw error
      } finally {
        release()
        await locked.catch(() => {})
      }
    },
    async abort() {
      drop()
      release()
      await locked.catch(() => {})
    },
  }
}

/** Tables ordered so that every table comes after the ones it references (cycles: as found). */
export function parentsFirst(names: readonly string[], parents: Map<string, string[]>): string[] {
  const out: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (n: string) => {
    if (state.has(n)) return
    state.set(n, 'visiting')
    for (const p of parents.get(n) ?? []) if (p !== n && names.includes(p)) visit(p)
    state.set(n, 'done')
    out.push(n)
  }
  for (const n of [...names].sort()) visit(n)
  return out
}

function tableExists(raw: Database.Database, name: string): boolean {
  return (
    raw.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
    undefined
  )
}

/** safeIntegers rows: small integers back to numbers, large ones stay bigint (exact). */
function unbig(row: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(row))
    if (typeof v === 'bigint' && v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER)
      row[k] = Number(v)
  return row
}

function quote(id: string): string {
  return `"${id.replaceAll('"', '""')}"`
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
