import { closeSync, existsSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { onReadOnlyMount } from './connection.js'
import { TenantBusyError } from './errors.js'
import { isBusy, ReadOnlyStorageError } from './faults.js'

// Callers in this process queue here, so only one of them at a time polls the file lock.
const queues = new Map<string, Promise<void>>()
// Writers of one database file in this process take turns here, first come first served.
const writeTurns = new Map<string, Promise<void>>()

/**
 * Waits (at most `timeoutMs`) for this process's turn to write `file`, and resolves with the
 * function that ends the turn. SQLite's locks are not fair: a loop that commits and begins
 * again at once would keep a migration or a destroy in the same process polling forever.
 * Resolves `undefined` when the wait timed out (the caller reports the contention).
 */
export async function writeTurn(
  file: string,
  timeoutMs: number,
): Promise<(() => void) | undefined> {
  const prev = writeTurns.get(file)
  let end!: () => void
  const mine = new Promise<void>((r) => {
    end = r
  })
  const tail = prev === undefined ? mine : prev.then(() => mine)
  writeTurns.set(file, tail)
  const release = () => {
    end()
    if (writeTurns.get(file) === tail) writeTurns.delete(file)
  }
  if (prev === undefined) return release
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), timeoutMs)
  })
  const outcome = await Promise.race([prev.then(() => 'turn' as const), timedOut])
  clearTimeout(timer)
  if (outcome === 'turn') return release
  // Give up the place in the queue without blocking those behind: end as soon as it comes.
  void prev.then(release)
  return undefined
}

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
    const held = tryAcquire(path, tenant)
    if (held !== undefined) return held
    if (Date.now() >= deadline) throw new TenantBusyError(tenant, timeoutMs)
    // Polling with back-off: SQLite's own busy handler would block this thread's event loop.
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 25)
  }
}

function tryAcquire(path: string, tenant: string): Database.Database | undefined {
  let before: import('node:fs').Stats
  let db: Database.Database
  try {
    mkdirSync(dirname(path), { recursive: true })
    closeSync(openSync(path, 'a'))
    before = statSync(path)
    db = new Database(path, { timeout: 0 })
  } catch (error) {
    // A read-only root never frees up: say so now instead of after lockTimeoutMs.
    if (isReadOnly(error, path)) throw new ReadOnlyStorageError(tenant, path, { cause: error })
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
    if (isReadOnly(error, path)) {
      db.close()
      throw new ReadOnlyStorageError(tenant, path, { cause: error })
    }
    if (!isBusy(error) && !isGone(error)) {
      db.close()
      throw error
    }
  }
  db.close()
  return undefined
}

/**
 * What is at a lock path: nothing, a lock some live process holds, or an orphan (the file of
 * a holder that was killed before it could delete it; harmless, since the kernel dropped the
 * lock itself, but clutter that `repair()` removes).
 */
export function probeLock(path: string): 'absent' | 'held' | 'orphan' {
  if (!existsSync(path)) return 'absent'
  const held = tryAcquire(path, path)
  if (held === undefined) return existsSync(path) ? 'held' : 'absent'
  held.close()
  return 'orphan'
}

/** Deletes an orphan lock file (taking the lock first, so a live holder is never disturbed). */
export function removeOrphanLock(path: string): boolean {
  if (!existsSync(path)) return false
  const held = tryAcquire(path, path)
  if (held === undefined) return false
  try {
    unlinkQuiet(path)
  } finally {
    held.close()
  }
  return true
}

function isReadOnly(error: unknown, path: string): boolean {
  const code = (error as { code?: unknown }).code
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return true
  if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) return true
  // mkdir -p on a read-only mount says ENOENT, not EROFS.
  return (code === 'SQLITE_CANTOPEN' || code === 'ENOENT') && onReadOnlyMount(path)
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

/**
 * Runs `fn` holding the database's own write lock (`BEGIN IMMEDIATE`, waited for without
 * blocking the event loop). Destroy deletes the files under it: a writer in another process
 * that takes the lock afterwards finds its file unlinked and refuses (see `FileIdentity`),
 * and one that held it before has committed into the file being destroyed, as it should.
 */
export async function withDatabaseWriteLock<R>(
  file: string,
  tenant: string,
  timeoutMs: number,
  fn: () => R,
): Promise<R> {
  const turn = await writeTurn(file, timeoutMs)
  if (turn === undefined) throw new TenantBusyError(tenant, timeoutMs)
  let db: Database.Database
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 })
  } catch (error) {
    turn()
    throw error
  }
  try {
    const deadline = Date.now() + timeoutMs
    let delay = 1
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE')
        break
      } catch (error) {
        if (!isBusy(error)) throw error
        if (Date.now() >= deadline) throw new TenantBusyError(tenant, timeoutMs)
        await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())))
        delay = Math.min(delay * 2, 25)
      }
    }
    return fn()
  } finally {
    // The files are gone by now: SQLite sees the database moved and skips its checkpoint and
    // WAL cleanup on close, which would otherwise act on a re-created tenant's files by name.
    db.close()
    turn()
  }
}
