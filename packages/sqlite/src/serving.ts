import type Database from 'better-sqlite3'
import { type Kysely, sql } from 'kysely'
import { kyselyOver, openFile, type SqlLogger } from './connection.js'
import { DatabaseBusyError, isBusy, isTransient } from './faults.js'
import { guarded } from './guard.js'
import { FileIdentity } from './identity.js'
import { lockFile, siblings } from './layout.js'
import { unlinkQuiet, withDatabaseWriteLock } from './lock.js'

/** One open tenant handle: the Kysely the core caches, its connection and its file identity. */
export interface ServingHandle<DB> {
  readonly tenant: string
  readonly db: Kysely<DB>
  readonly raw: Database.Database
  readonly identity: FileIdentity
}

/** Settings of the handles a store opens. */
export interface ServingOptions {
  busyTimeoutMs: number
  logger?: SqlLogger | undefined
  /** Prepared statements kept per handle; default 64. */
  statementCache?: number | undefined
}

/**
 * Opens a tenant's file for serving. SQLite's own busy handler is off (timeout 0): the driver
 * waits for locks asynchronously, so one tenant's contention never stalls the event loop. The
 * identity is taken before SQLite opens the file, so a file replaced in between is caught as
 * stale rather than missed. On a read-only mount the file is opened immutable (reads work).
 */
export async function openServing<DB>(
  file: string,
  tenant: string,
  options: ServingOptions,
): Promise<ServingHandle<DB>> {
  const identity = FileIdentity.of(file)
  let raw: Database.Database
  try {
    raw = await openWaiting(file, options.busyTimeoutMs)
  } catch (error) {
    identity.close()
    throw error
  }
  const db = kyselyOver<DB>(
    guarded(raw),
    options.logger,
    { tenant },
    {
      busyTimeoutMs: options.busyTimeoutMs,
      identity,
      statementCache: options.statementCache,
      file: raw.name,
    },
  )
  return { tenant, db, raw, identity }
}

/**
 * Opens with SQLite's busy handler off, waiting out `SQLITE_BUSY` without blocking: the first
 * statement of a connection can meet one while another process recovers the WAL of a crashed
 * one.
 */
async function openWaiting(file: string, busyTimeoutMs: number): Promise<Database.Database> {
  const deadline = Date.now() + busyTimeoutMs
  for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
    try {
      return openFile(file, 0, { mustExist: true, readOnlyFallback: true })
    } catch (error) {
      if (!isBusy(error)) throw error
      if (Date.now() >= deadline)
        throw new DatabaseBusyError(undefined, busyTimeoutMs, { cause: error })
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())))
    }
  }
}

/**
 * Closes a handle's connection. Kysely's `destroy()` is not called: a query that still holds
 * the Kysely afterwards then reaches the driver and fails with `TENANTRY_DB_CLOSED` instead of
 * Kysely's bare "driver has already been destroyed".
 */
export function closeServing(h: ServingHandle<any>): void {
  if (h.raw.open) h.raw.close()
  h.identity.close()
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
