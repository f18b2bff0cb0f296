import type Database from 'better-sqlite3'
import { type Kysely, sql } from 'kysely'
import { kyselyOver, openFile, type SqlLogger } from './connection.js'
import type { RawBacked } from './driver.js'
import { DatabaseBusyError, isBusy, isTransient, TenantGoneError } from './faults.js'
import { guarded } from './guard.js'
import { FileIdentity } from './identity.js'
import { lockFile, siblings } from './layout.js'
import { unlinkQuiet, withDatabaseWriteLock } from './lock.js'

/** One open tenant handle: the Kysely the core caches, its connections and its file identity. */
export interface ServingHandle<DB> {
  readonly tenant: string
  readonly db: Kysely<DB>
  /** The read-only connection every autocommit read runs on (opened with the handle). */
  readonly raw: Database.Database
  readonly identity: FileIdentity
  /** The read-write connection, once a write, DDL, pragma or write transaction needed it. */
  readonly writer: () => Database.Database | undefined
  /** Called with the writer when it is opened (the store applies its memory budget). */
  onWriter: ((raw: Database.Database) => void) | undefined
  /** Set by {@link closeServing}: no writer is opened afterwards. */
  closed: boolean
}

/** Settings of the handles a store opens. */
export interface ServingOptions {
  busyTimeoutMs: number
  logger?: SqlLogger | undefined
  /** Prepared statements kept per handle; default 64. */
  statementCache?: number | undefined
}

/**
 * Opens a tenant's file for serving, as two connections: a read-only one at once, and a
 * read-write one when the first statement that writes needs it. Why: a read-write connection
 * that closes last on a WAL file checkpoints it and deletes `-wal` and `-shm`, so every
 * open/close cycle under a cap created and deleted two files (two inode allocations, 1-3 ms of
 * kernel time on a busy disk: most of a churning handle's cost). A read-only connection cannot
 * checkpoint, so it leaves both in place, and while it is open the writer's close cannot take
 * the exclusive lock it needs to delete them either; the next open finds them. SQLite's own
 * busy handler is off (timeout 0): the driver waits for locks asynchronously, so one tenant's
 * contention never stalls the event loop. The identity is taken before SQLite opens the file,
 * so a file replaced in between is caught as stale rather than missed.
 */
export async function openServing<DB>(
  file: string,
  tenant: string,
  options: ServingOptions,
): Promise<ServingHandle<DB>> {
  const identity = FileIdentity.of(file)
  const raw = await openWaiting(file, options.busyTimeoutMs, true)
  let writer: Database.Database | undefined
  let guardedWriter: RawBacked | undefined
  const h: ServingHandle<DB> = {
    tenant,
    raw,
    identity,
    writer: () => writer,
    onWriter: undefined,
    closed: false,
    db: kyselyOver<DB>(
      guarded(raw),
      options.logger,
      { tenant },
      {
        busyTimeoutMs: options.busyTimeoutMs,
        identity,
        statementCache: options.statementCache,
        file: raw.name,
        writer: async () => {
          if (h.closed) return guarded(raw) // closed: its statements fail TENANTRY_DB_CLOSED
          if (writer === undefined) {
            if (!identity.isLinked()) throw new TenantGoneError(tenant)
            let w: Database.Database
            try {
              w = await openWaiting(file, options.busyTimeoutMs, false)
            } catch (error) {
              if (!identity.isLinked()) throw new TenantGoneError(tenant)
              throw error
            }
            // Opened after the identity was taken: if the path names another file by now, this
            // connection may be on the new one, which this handle must never write into.
            if (h.closed || !identity.isLinked()) {
              w.close()
              if (h.closed) return guarded(raw)
              throw new TenantGoneError(tenant)
            }
            writer = w
            guardedWriter = guarded(w)
            h.onWriter?.(w)
          }
          return guardedWriter!
        },
      },
    ),
  }
  return h
}

/**
 * Opens with SQLite's busy handler off, waiting out `SQLITE_BUSY` without blocking: the first
 * statement of a connection can meet one while another process recovers the WAL of a crashed
 * one.
 */
async function openWaiting(
  file: string,
  busyTimeoutMs: number,
  readonly: boolean,
): Promise<Database.Database> {
  const deadline = Date.now() + busyTimeoutMs
  for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
    try {
      return openFile(file, 0, { mustExist: true, readOnlyFallback: true, readonly })
    } catch (error) {
      if (!isBusy(error)) throw error
      if (Date.now() >= deadline)
        throw new DatabaseBusyError(undefined, busyTimeoutMs, { cause: error })
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())))
    }
  }
}

/**
 * Closes a handle's connections, the writer first: with the reader still open, the writer
 * cannot take the lock to delete `-wal` and `-shm`, and the reader cannot checkpoint, so both
 * stay for the next open. Kysely's `destroy()` is not called: a query that still holds the
 * Kysely afterwards then reaches the driver and fails with `TENANTRY_DB_CLOSED` instead of
 * Kysely's bare "driver has already been destroyed".
 */
export function closeServing(h: ServingHandle<any>): void {
  h.closed = true
  const w = h.writer()
  if (w?.open) {
    checkpointQuiet(w)
    w.close()
  }
  if (h.raw.open) h.raw.close()
  h.identity.close()
}

/**
 * What SQLite's close would have done: the WAL's frames into the database, and the WAL
 * truncated (no file keeps a tenant's recent writes, and no -wal grows on disk per idle
 * tenant). Never waits: with a reader elsewhere, or a writer holding the lock, the WAL stays
 * as it is (SQLite's close would not have checkpointed either) for a later checkpoint.
 */
function checkpointQuiet(w: Database.Database): void {
  try {
    w.pragma('wal_checkpoint(TRUNCATE)')
  } catch {
    // Busy, or read-only storage: the WAL is SQLite's to replay, nothing is lost.
  }
}

/**
 * A Kysely over a raw connection for migrations and stamps, waiting for locks like a serving
 * handle does (without blocking the event loop). The caller closes `raw`.
 */
export function migrationKysely(
  raw: Database.Database,
  tenant: string,
  options: ServingOptions,
): Kysely<any> {
  return kyselyOver(
    guarded(raw, false),
    options.logger,
    { tenant },
    {
      busyTimeoutMs: options.busyTimeoutMs,
      statementCache: 0,
      file: raw.name,
    },
  )
}

/**
 * Reads the schema stamp (`PRAGMA user_version`), waiting out `SQLITE_BUSY` without blocking
 * (another process recovering the WAL after a crash holds it briefly).
 */
export async function readStamp(raw: Database.Database, busyTimeoutMs: number): Promise<number> {
  const deadline = Date.now() + busyTimeoutMs
  for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
    try {
      return raw.pragma('user_version', { simple: true }) as number
    } catch (error) {
      if (!isBusy(error)) throw error
      if (Date.now() >= deadline)
        throw new DatabaseBusyError(undefined, busyTimeoutMs, { cause: error })
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())))
    }
  }
}

/** Writes the schema stamp through the driver (an autocommit write that may wait its turn). */
export async function writeStamp(db: Kysely<any>, stamp: number): Promise<void> {
  await sql.raw(`pragma user_version = ${Math.trunc(stamp)}`).execute(db)
}

/**
 * Deletes a tenant's files holding the database's write lock, so that no writer in another
 * process can commit into them after they are unlinked (its identity check refuses). The lock
 * file itself stays: the caller holds it.
 */
export async function destroyFiles(file: string, tenant: string, timeoutMs: number): Promise<void> {
  await withDatabaseWriteLock(file, tenant, timeoutMs, () => {
    for (const f of siblings(file)) if (f !== lockFile(file)) unlinkQuiet(f)
  })
}

/**
 * Runs `fn` again after transient contention (another connection held the write lock past
 * `busyTimeoutMs`), a bounded number of times with jittered pauses. Migrations are safe to
 * repeat: a failed run rolled back whole.
 */
export async function retryTransient<R>(fn: () => Promise<R>, attempts = 3): Promise<R> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (error) {
      if (!isTransient(error) || i >= attempts) throw error
      await new Promise((r) => setTimeout(r, 20 * i * (0.5 + Math.random())))
    }
  }
}
