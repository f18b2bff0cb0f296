import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TenantBusyError } from './errors.js'

// Callers in this process queue here, so only one of them at a time polls the file lock.
const queues = new Map<string, Promise<void>>()

/**
 * Runs `fn` while holding the lock at `path`, exclusive across async callers, worker threads
 * and processes. The lock is an SQLite `BEGIN EXCLUSIVE` on a scratch file: the kernel drops it
 * when its process dies (even on SIGKILL), so a crashed creator never leaves a stale lock.
 * The holder deletes the file before letting go; waiters check they locked the file that is
 * still at `path` (same inode), else they retry.
 */
export async function withFileLock<R>(
  path: string,
  tenant: string,
  timeoutMs: number,
  fn: () => Promise<R>,
): Promise<R> {
  const prev = queues.get(path)
  let release!: () => void
  const mine = new Promise<void>((r) => {
    release = r
  })
  const tail = prev === undefined ? mine : prev.then(() => mine)
  queues.set(path, tail)
  try {
    if (prev !== undefined) await prev
    const held = await acquire(path, tenant, timeoutMs)
    try {
      return await fn()
    } finally {
      unlinkQuiet(path)
      held.close()
    }
  } finally {
    release()
    if (queues.get(path) === tail) queues.delete(path)
  }
}

async function acquire(
  path: string,
  tenant: string,
  timeoutMs: number,
): Promise<Database.Database> {
  const deadline = Date.now() + timeoutMs
  let delay = 1
  for (;;) {
    const held = tryAcquire(path)
    if (held !== undefined) return held
    if (Date.now() >= deadline) throw new TenantBusyError(tenant, timeoutMs)
    // Polling with back-off: SQLite's own busy handler would block this thread's event loop.
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 25)
  }
}

function tryAcquire(path: string): Database.Database | undefined {
  let before: import('node:fs').Stats
  let db: Database.Database
  try {
    mkdirSync(dirname(path), { recursive: true })
    closeSync(openSync(path, 'a'))
    before = statSync(path)
    db = new Database(path, { timeout: 0 })
  } catch (error) {
    // The folder or file vanished under us (its holder cleaned up): try again.
    if (isGone(error)) return undefined
    throw error
  }
  try {
    db.pragma('journal_mode = MEMORY') // no -journal file beside the lock
    db.exec('BEGIN EXCLUSIVE')
    const after = statSync(path, { throwIfNoEntry: false })
    if (after !== undefined && after.ino === before.ino && after.dev === before.dev) return db
  } catch (error) {
    if (!isBusy(error) && !isGone(error)) {
      db.close()
      throw error
    }
  }
  db.close()
  return undefined
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

function isGone(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return code === 'ENOENT' || code === 'SQLITE_CANTOPEN'
}

/** Deletes a file if it is there. */
export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}
