import { existsSync, renameSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Layout } from './layout.js'
import { lockFile, sqliteSidecars } from './layout.js'
import { probeLock, unlinkQuiet } from './lock.js'

/**
 * The files a killed restore or soft delete leaves beside a tenant's database (longest first,
 * so `.restoring-wal` is not read as `-wal`): the staged database and its sidecars, the old
 * database a forced restore set aside, a tombstone that was never renamed into place.
 */
export const LEFTOVER_SUFFIXES = [
  '.restoring-journal',
  '.restoring-wal',
  '.restoring-shm',
  '.restoring',
  '.replaced',
  '.deleting',
]

/** A file set's folder staged by a restore (`files.restoring-1a2b3c4d`). */
export const RESTORING_DIR = /\.restoring-[0-9a-f]{8}$/

/** A finding as the repair run records it (the path still absolute). */
export interface LeftoverFinding {
  kind: 'orphan-restoring' | 'half-restored' | 'orphan-deleting'
  tenant?: string | undefined
  abs: string
  detail: string
  fixed: boolean
}

/** What the checks need from the repair run. */
export interface LeftoverContext {
  layout: Layout
  fix: boolean
  note(f: LeftoverFinding): { fixed: boolean }
  /** Runs `fn` under the tenant's lock; false when a live process holds it. */
  underLock(tenant: string, base: string, fn: () => void): Promise<boolean>
}

/**
 * One leftover file of `tenant` (database `base`). Restores and soft deletes run under the
 * tenant's lock, so a held lock means the operation is alive: its files are left alone.
 */
export async function checkLeftover(
  ctx: LeftoverContext,
  abs: string,
  tenant: string,
  base: string,
  suffix: string,
): Promise<void> {
  if (probeLock(lockFile(base)) === 'held') return
  if (suffix === '.deleting') {
    const f = ctx.note({
      kind: 'orphan-deleting',
      tenant,
      abs,
      detail: 'a tombstone a soft delete never renamed into place; the tenant stayed visible',
      fixed: false,
    })
    if (ctx.fix) f.fixed = await ctx.underLock(tenant, base, () => unlinkQuiet(abs))
    return
  }
  if (suffix === '.replaced') {
    const back = !existsSync(base)
    const f = ctx.note({
      kind: 'half-restored',
      tenant,
      abs,
      detail: back
        ? 'a forced restore died after setting the old database aside: --fix puts it back'
        : 'the old database a finished forced restore replaced',
      fixed: false,
    })
    if (ctx.fix)
      f.fixed = await ctx.underLock(tenant, base, () => {
        if (existsSync(base)) unlinkQuiet(abs)
        else renameSync(abs, base)
      })
    return
  }
  if (suffix !== '.restoring') return // its sidecars go with it
  const f = ctx.note({
    kind: 'orphan-restoring',
    tenant,
    abs,
    detail: 'a database a killed restore was staging; it was never visible',
    fixed: false,
  })
  if (ctx.fix)
    f.fixed = await ctx.underLock(tenant, base, () => {
      for (const p of [abs, ...sqliteSidecars(abs)]) unlinkQuiet(p)
    })
}

/** A file set's folder a killed restore was staging (its tenant found from the folders above). */
export async function checkRestoringDir(ctx: LeftoverContext, abs: string): Promise<void> {
  let tenant: string | undefined
  for (let dir = dirname(abs); dir.startsWith(ctx.layout.root) && dir !== ctx.layout.root; ) {
    tenant = ctx.layout.tenantOfFolder(dir)
    if (tenant !== undefined) break
    dir = dirname(dir)
  }
  const base = tenant === undefined ? undefined : ctx.layout.file(tenant)
  if (base !== undefined && probeLock(lockFile(base)) === 'held') return
  const f = ctx.note({
    kind: 'orphan-restoring',
    tenant,
    abs,
    detail:
      tenant === undefined
        ? 'files a killed restore was staging; remove the folder once no restore runs'
        : 'files a killed restore was staging; they were never visible',
    fixed: false,
  })
  if (ctx.fix && tenant !== undefined && base !== undefined)
    f.fixed = await ctx.underLock(tenant, base, () =>
      rmSync(join(abs), { recursive: true, force: true }),
    )
}
