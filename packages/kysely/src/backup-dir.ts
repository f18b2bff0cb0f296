import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** The extension of backup files written by `backupTenantToDir`. */
export const BACKUP_EXTENSION = '.tenantry.tar'

/**
 * Where a backup of `tenant` taken at `at` goes in `dir`: `dir/<tenant>/<tenant>-<UTC stamp>`
 * plus {@link BACKUP_EXTENSION}. The stamp sorts by time, so retention keeps the last ones.
 */
export function backupPath(dir: string, tenant: string, at: Date = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '')
  return join(dir, tenant, `${tenant}-${stamp}${BACKUP_EXTENSION}`)
}

/** The finished backups of `tenant` in `dir`, oldest first. */
export async function listBackups(dir: string, tenant: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(join(dir, tenant))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const prefix = `${tenant}-`
  return names
    .filter((n) => n.startsWith(prefix) && n.endsWith(BACKUP_EXTENSION))
    .sort()
    .map((n) => join(dir, tenant, n))
}

/** Deletes all but the newest `keep` backups of `tenant` in `dir`; returns what it deleted. */
export async function pruneBackups(dir: string, tenant: string, keep: number): Promise<string[]> {
  const all = await listBackups(dir, tenant)
  const old = all.slice(0, Math.max(0, all.length - keep))
  for (const f of old) await rm(f, { force: true })
  return old
}
