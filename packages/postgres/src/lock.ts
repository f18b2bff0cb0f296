import type pg from 'pg'
import { quoteIdent } from './naming.js'

const LOCK_NOT_AVAILABLE = '55P03'

/**
 * Transactions holding a transaction-level advisory lock: it is released by COMMIT or
 * ROLLBACK, also when the process dies, and never outlives the transaction on a pooled (or
 * PgBouncer) connection. Callers in this process queue per key first, so waiting callers don't
 * each hold a pooled connection.
 */
export class AdvisoryLocks {
  private readonly queues = new Map<string, Promise<unknown>>()

  constructor(
    private readonly pool: pg.Pool,
    private readonly lockTimeoutMs: number,
  ) {}

  /**
   * Runs `fn` in a transaction holding the lock `key` (a bigint as a string), after this
   * process's earlier callers of the same key. `busy` makes the error for a lock that another
   * session held past `lockTimeoutMs`.
   */
  run<R>(key: string, fn: (client: pg.PoolClient) => Promise<R>, busy: () => Error): Promise<R> {
    const before = this.queues.get(key) ?? Promise.resolve()
    const go = () => this.transaction(key, fn, busy)
    const run = before.then(go, go)
    const tail = run.catch(() => {})
    this.queues.set(key, tail)
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key)
    })
    return run
  }

  /** Runs `fn` in a transaction holding the lock `key`, without the in-process queue. */
  async transaction<R>(
    key: string,
    fn: (client: pg.PoolClient) => Promise<R>,
    busy: () => Error,
  ): Promise<R> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('begin')
      try {
        await client.query(
          `set local lock_timeout = ${Math.max(1, Math.round(this.lockTimeoutMs))}`,
        )
        await client.query('select pg_advisory_xact_lock($1::bigint)', [key])
        await client.query('set local lock_timeout to default')
        const result = await fn(client)
        await client.query('commit')
        return result
      } catch (error) {
        try {
          await client.query('rollback')
        } catch (rollbackError) {
          broken = rollbackError as Error
        }
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) throw busy()
        throw error
      }
    } finally {
      client.release(broken)
    }
  }
}

/**
 * Inside a migration transaction only: unqualified names in raw SQL of migrations (and foreign
 * keys, types, functions) resolve to `schema`. `SET LOCAL` ends with the transaction, so the
 * pooled connection goes back clean.
 */
export async function searchPath(client: pg.PoolClient, schema: string): Promise<void> {
  await client.query(`set local search_path to ${quoteIdent(schema)}, public`)
}
