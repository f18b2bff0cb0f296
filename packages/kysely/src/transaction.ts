import { tenancy as defaultTenancy, type Tenancy } from '@tenantry/context'
import { ControlledTransaction, type Kysely, sql, type Transaction } from 'kysely'

/** Options of {@link withTransaction}. */
export interface WithTransactionOptions {
  /** The tenancy whose context holds the database; default: the shared default tenancy. */
  tenancy?: Tenancy | undefined
  /** The resource to wrap; default `db` (use `centralDb` for the central database). */
  resource?: string | undefined
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
  const trx = await db.startTransaction().execute()
  let result: Awaited<R>
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
