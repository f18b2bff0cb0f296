import { closeSync, type Dirent, openSync, readdirSync, readSync, rmdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import Database from 'better-sqlite3'
import type { Layout } from './layout.js'
import { lockFile, sqliteSidecars, tempFile } from './layout.js'
import { probeLock, removeOrphanLock, unlinkQuiet, withFileLock } from './lock.js'
import type { MigrationSet } from './migrations.js'
import {
  checkLeftover,
  checkRestoringDir,
  LEFTOVER_SUFFIXES,
  type LeftoverContext,
  RESTORING_DIR,
} from './repair-leftovers.js'

/** What `repair()` found; `fixed` says whether `{ fix: true }` dealt with it. */
export interface RepairFinding {
  /**
   * - `orphan-lock`: a lock file whose holder died (harmless clutter);
   * - `orphan-creating`: a half-built `.creating` file of a creator that died;
   * - `half-made`: SQLite sidecars (`-wal`, `-shm`) or an empty folder without a database;
   * - `symlink`: a symbolic link where a tenant folder or file belongs (refused when served);
   * - `not-a-tenant`: a database-named file that is no tenant (a name the rule refuses, not
   *   SQLite) — reported, never deleted;
   * - `stamp`: the schema stamp disagrees with the applied migrations (fixed by re-stamping);
   * - `unknown-migrations`: migrations applied that this release does not know — reported;
   * - `orphan-restoring`: what a killed restore was staging (a database, file folders);
   * - `half-restored`: the old database a forced restore set aside (put back when it died midway);
   * - `orphan-deleting`: a tombstone a killed soft delete never renamed into place.
   * Leftovers of a live operation (its tenant's lock held) are not reported.
   */
  kind:
    | 'orphan-lock'
    | 'orphan-creating'
    | 'half-made'
    | 'symlink'
    | 'not-a-tenant'
    | 'stamp'
    | 'unknown-migrations'
    | 'orphan-restoring'
    | 'half-restored'
    | 'orphan-deleting'
  /** The tenant concerned, when the path names one. */
  tenant?: string | undefined
  /** The path, relative to the store's root. */
  path: string
  /** What is wrong, in words. */
  detail: string
  /** True when this run fixed it. */
  fixed: boolean
}

/** Options of `repair()`. */
export interface RepairOptions {
  /** Fix what can be fixed safely (under each tenant's lock); default false: only report. */
  fix?: boolean | undefined
}

/** What a repair run needs from its store. */
export interface RepairContext {
  layout: Layout
  migrations: MigrationSet
  validate: (tenant: string) => unknown
  lockTimeoutMs: number
}

// Longest first, so `.creating-wal` is not read as `-wal` of a file called `x.creating`.
const SUFFIXES = [
  ...LEFTOVER_SUFFIXES,
  '.creating-journal',
  '.creating-wal',
  '.creating-shm',
  '.creating',
  '.lock',
]
const SIDECARS = ['-journal', '-wal', '-shm']
const SQLITE_MAGIC = 'SQLite format 3\0'

/** Scans the store's root for the debris of crashes and the files that are no tenant. */
export async function repairTenants(
  ctx: RepairContext,
  options: RepairOptions = {},
): Promise<RepairFinding[]> {
  const { layout } = ctx
  const fix = options.fix === true
  const findings: RepairFinding[] = []
  const rel = (p: string) => relative(layout.root, p)
  const note = (f: Omit<RepairFinding, 'path'> & { abs: string }) => {
    const { abs, ...rest } = f
    findings.push({ ...rest, path: rel(abs) })
    return findings[findings.length - 1]!
  }
  const tenantOf = (file: string) => {
    const t = layout.tenantOf(file)
    if (t === undefined) return undefined
    try {
      ctx.validate(t)
      return t
    } catch {
      return undefined
    }
  }
  const expected = await ctx.migrations.version()
  const known = new Set(Object.keys(await ctx.migrations.provider.getMigrations()))
  const dirs: string[] = []
  const leftovers: LeftoverContext = {
    layout,
    fix,
    note: (f) => note(f),
    underLock: (tenant, base, fn) => underLock(ctx, tenant, base, fn),
  }

  const visit = async (dir: string): Promise<void> => {
    let entries: Dirent[]
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    if (dir !== layout.root) dirs.push(dir)
    for (const e of entries) {
      const abs = join(dir, e.name)
      if (dir === layout.root && e.name.startsWith('central.sqlite3')) continue
      if (e.isDirectory()) {
        if (RESTORING_DIR.test(e.name)) await checkRestoringDir(leftovers, abs)
        else await visit(abs)
        continue
      }
      const claimed = claim(abs)
      if (e.isSymbolicLink()) {
        if (claimed !== undefined || pointsIntoTenants(abs)) {
          const f = note({
            kind: 'symlink',
            tenant: claimed?.tenant,
            abs,
            detail:
              'a symbolic link where a tenant folder or file belongs; it is refused when served',
            fixed: false,
          })
          if (fix) {
            unlinkQuiet(abs) // removes the link itself, never its target
            f.fixed = true
          }
        }
        continue
      }
      if (!e.isFile() || claimed === undefined) continue
      await check(abs, claimed)
    }
  }

  /** Which tenant file a path belongs to, and as what (`''` is the database itself). */
  const claim = (
    abs: string,
  ): { tenant: string | undefined; base: string; suffix: string } | undefined => {
    for (const suffix of [...SUFFIXES, ...SIDECARS, '']) {
      if (!abs.endsWith(suffix)) continue
      const base = abs.slice(0, abs.length - suffix.length)
      if (layout.tenantOf(base) === undefined) continue
      return { tenant: tenantOf(base), base, suffix }
    }
    return undefined
  }
  const pointsIntoTenants = (abs: string) => layout.tenantOfFolder(abs) !== undefined

  const check = async (
    abs: string,
    c: { tenant: string | undefined; base: string; suffix: string },
  ) => {
    const { tenant, base, suffix } = c
    if (tenant === undefined) {
      if (suffix === '')
        note({
          kind: 'not-a-tenant',
          abs,
          detail: 'a database-named file whose name the naming rule refuses',
          fixed: false,
        })
      return
    }
    if (LEFTOVER_SUFFIXES.includes(suffix))
      return await checkLeftover(leftovers, abs, tenant, base, suffix)
    if (suffix === '.lock') {
      if (probeLock(abs) !== 'orphan') return
      const f = note({
        kind: 'orphan-lock',
        tenant,
        abs,
        detail: 'a lock file left by a process that died holding it',
        fixed: false,
      })
      if (fix) f.fixed = removeOrphanLock(abs)
      return
    }
    if (suffix.startsWith('.creating')) {
      if (suffix !== '.creating' || probeLock(lockFile(base)) === 'held') return
      const f = note({
        kind: 'orphan-creating',
        tenant,
        abs,
        detail: 'a half-built tenant of a creator that died; the tenant was never visible',
        fixed: false,
      })
      if (fix)
        f.fixed = await underLock(ctx, tenant, base, () => {
          for (const p of [tempFile(base), ...sqliteSidecars(tempFile(base))]) unlinkQuiet(p)
        })
      return
    }
    if (SIDECARS.includes(suffix)) {
      if (exists(base)) return
      const f = note({
        kind: 'half-made',
        tenant,
        abs,
        detail: `SQLite's ${suffix} file without its database (a destroy that died midway)`,
        fixed: false,
      })
      if (fix)
        f.fixed = await underLock(ctx, tenant, base, () => {
          if (!exists(base)) unlinkQuiet(abs)
        })
      return
    }
    if (!isSqlite(abs)) {
      note({
        kind: 'not-a-tenant',
        tenant,
        abs,
        detail: 'the file is not an SQLite database',
        fixed: false,
      })
      return
    }
    await checkStamp(abs, tenant)
  }

  const checkStamp = async (abs: string, tenant: string) => {
    let stamp: number
    let applied: string[]
    const raw = new Database(abs, { readonly: true, fileMustExist: true, timeout: 1000 })
    try {
      stamp = raw.pragma('user_version', { simple: true }) as number
      const table = raw.prepare("select 1 from sqlite_master where name = 'kysely_migration'").get()
      applied =
        table === undefined
          ? []
          : (raw.prepare('select name from kysely_migration').all() as { name: string }[]).map(
              (r) => r.name,
            )
    } finally {
      raw.close()
    }
    const unknown = applied.filter((n) => !known.has(n))
    if (unknown.length > 0) {
      note({
        kind: 'unknown-migrations',
        tenant,
        abs,
        detail: `applied migrations this release does not know: ${unknown.slice(0, 5).join(', ')}`,
        fixed: false,
      })
      return
    }
    const complete = applied.length === known.size
    if (complete === (stamp === expected)) return // current and stamped, or pending and unstamped
    const f = note({
      kind: 'stamp',
      tenant,
      abs,
      detail: complete
        ? `every migration is applied but the stamp is ${stamp}, not ${expected}`
        : `the stamp says current but ${known.size - applied.length} migration(s) are pending`,
      fixed: false,
    })
    if (fix)
      f.fixed = await underLock(ctx, tenant, abs, () => {
        const rw = new Database(abs, { fileMustExist: true, timeout: 1000 })
        try {
          rw.pragma(`user_version = ${complete ? expected : 0}`)
        } finally {
          rw.close()
        }
      })
  }

  await visit(layout.root)
  // Empty tenant folders, left by a creator or destroyer that died.
  for (const dir of dirs.reverse()) {
    const tenant = layout.tenantOfFolder(dir)
    if (tenant === undefined || readdirSync(dir).length !== 0) continue
    const f = note({
      kind: 'half-made',
      tenant,
      abs: dir,
      detail: 'an empty folder (a tenant that was never finished, or destroyed)',
      fixed: false,
    })
    if (fix) {
      try {
        rmdirSync(dir)
        f.fixed = true
      } catch {
        // Something arrived meanwhile: leave it.
      }
    }
  }
  return findings
}

async function underLock(
  ctx: RepairContext,
  tenant: string,
  file: string,
  fn: () => void,
): Promise<boolean> {
  try {
    await withFileLock(lockFile(file), tenant, Math.min(ctx.lockTimeoutMs, 2000), async () => fn())
    return true
  } catch {
    return false // in use by a live process: left for the next run
  }
}

function exists(path: string): boolean {
  try {
    closeSync(openSync(path, 'r'))
    return true
  } catch {
    return false
  }
}

function isSqlite(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.alloc(16)
    return readSync(fd, buf, 0, 16, 0) === 16 && buf.toString('latin1') === SQLITE_MAGIC
  } finally {
    closeSync(fd)
  }
}
