import { tenancy as defaultTenancy, type Tenancy } from '@tenantry/context'
import { ControlledTransaction, type Kysely, sql, type Transaction } from 'kysely'

/** Options of {@link withTransaction}. */
export interface WithTransactionOptions {
  /** The tenancy whose context holds the database; default: the shared default tenancy. */
  tenancy?: Tenancy | undefined
  /** The resource to wrap; default `db` (use `centralDb` for the central database). */
  resource?: string | undefined
  /**
   * A transaction that only reads: `START TRANSACTION READ ONLY` on PostgreSQL, a deferred
   * `BEGIN` on SQLite (it takes no write lock, so it never waits for writers). Default false:
   * SQLite write transactions take the write lock up front (`BEGIN IMMEDIATE`).
   */
  readOnly?: boolean | undefined
  /**
   * How often the transaction is started again after transient contention (the backend's
   * dialect says which errors are; SQLite: the write lock stayed taken past `busyTimeoutMs`).
   * Only failures before `fn` ran are retried, unless `rerun` is set; default 3.
   */
  retries?: number | undefined
  /**
   * Also re-run `fn` when transient contention interrupts it (the database rolled it back
   * whole). Only for an `fn` whose effects are all inside the transaction; default false.
   */
  rerun?: boolean | undefined
}

/** What a dialect's adapter may offer `withTransaction` (the SQLite adapter does). */
interface RetryHook {
  isTransientError?(error: unknown): boolean
}

let savepoints = 0

/**
 * Runs `fn` in a transaction on the current `getDb()` (any Kysely: SQLite, PostgreSQL). Inside
 * it, `getDb()` returns the transaction itself, so code deep down joins it instead of waiting
 * for the single connection the transaction holds. Commits when `fn` resolves, rolls back when
 * it throws. A nested call opens a savepoint and rolls back only to it. Nested calls on one
 * transaction must run one after another (not in `Promise.all`): savepoints are a stack.
 */
export async function withTransaction<R, DB = any>(
  fn: (trx: Transaction<DB>) => R | PromiseLike<R>,
  options: WithTransactionOptions = {},
): Promise<Awaited<R>> {
  const tenancy = options.tenancy ?? defaultTenancy
  const name = options.resource ?? 'db'
  const db = tenancy.getResource(name) as Kysely<DB>
  const run = (trx: Transaction<DB>) =>
    tenancy.withOverrides({ [name]: trx }, async () => await fn(trx))
  if (db.isTransaction) return await nested(db as Transaction<DB>, run)
  const hook: RetryHook =
    typeof db.getExecutor === 'function' ? (db.getExecutor().adapter as RetryHook) : {}
  const retries = options.retries ?? 3
  for (let attempt = 0; ; attempt++) {
    let ran = false
    try {
      return await once(db, options.readOnly === true, (trx) => {
        ran = true
        return run(trx)
      })
    } catch (error) {
      const again =
        attempt < retries &&
        (!ran || options.rerun === true) &&
        hook.isTransientError?.(error) === true
      if (!again) throw error
      // Jittered, growing pauses: processes that collided must not collide again in step.
      await new Promise((r) =>
        setTimeout(r, Math.min(10 * 2 ** attempt, 500) * (0.5 + Math.random())),
      )
    }
  }
}

async function once<DB, R>(
  db: Kysely<DB>,
  readOnly: boolean,
  run: (trx: Transaction<DB>) => Promise<R>,
): Promise<R> {
  const start = db.startTransaction()
  const trx = await (readOnly ? start.setAccessMode('read only') : start).execute()
  let result: R
  try {
    result = await run(trx)
  } catch (error) {
    await trx.rollback().execute()
    throw error
  }
  try {
    await trx.commit().execute()
  } catch (error) {
    // Kysely releases the connection only after a successful COMMIT; a refused one (SQLite's
    // deferred foreign keys keep the transaction open) would hold it forever.
    await trx
      .rollback()
      .execute()
      .catch(() => {})
    throw error
  }
  return result
}

async function nested<DB, R>(
  trx: Transaction<DB>,
  run: (trx: Transaction<DB>) => Promise<R>,
): Promise<R> {
  const name = `tenantry_sp_${++savepoints}`
  if (trx instanceof ControlledTransaction) {
    // Kysely 0.28's savepoint API; the returned handle shares the transaction's connection.
    const sp = await (trx as ControlledTransaction<DB>).savepoint(name).execute()
    let result: R
    try {
      result = await run(sp)
    } catch (error) {
      await sp.rollbackToSavepoint(name).execute()
      await sql`release savepoint ${sql.id(name)}`.execute(sp)
      throw error
    }
    await sp.releaseSavepoint(name).execute()
    return result
  }
  // A plain Transaction (from db.transaction().execute) has no savepoint methods: raw SQL,
  // which SQLite and PostgreSQL both accept.
  await sql`savepoint ${sql.id(name)}`.execute(trx)
  let result: R
  try {
    result = await run(trx)
  } catch (error) {
    await sql`rollback to savepoint ${sql.id(name)}`.execute(trx)
    await sql`release savepoint ${sql.id(name)}`.execute(trx)
    throw error
  }
  await sql`release savepoint ${sql.id(name)}`.execute(trx)
  return result
}
