import type pg from 'pg'

/** A locked transaction kept open across calls, until {@link HeldTransaction.commit} or abort. */
export interface HeldTransaction {
  /** The transaction's client (holding the tenant's advisory lock). */
  readonly client: pg.PoolClient
  /** Runs `fn` as the transaction's last step, then commits; rejects (rolled back) if it throws. */
  commit(fn: (client: pg.PoolClient) => Promise<void>): Promise<void>
  /** Rolls the transaction back. */
  abort(): Promise<void>
}

// internal sentinel: never reaches a caller. Only abort() makes `run` throw it and abort()
// swallows it; the two archive stages never commit() after abort() (cleanup is their last call).
const ABORT = new Error('aborted')

/**
 * Opens `locked(tenant, …)` and hands its transaction out once `first` has run in it, so an
 * archive stage can load rows over many calls and still commit (or roll back) as one: nothing
 * is visible to others before COMMIT, and a process killed midway is rolled back by the server.
 */
export async function holdTransaction(
  locked: <R>(fn: (client: pg.PoolClient) => Promise<R>) => Promise<R>,
  first: (client: pg.PoolClient) => Promise<void>,
): Promise<HeldTransaction> {
  let decide!: (fn: ((c: pg.PoolClient) => Promise<void>) | undefined) => void
  const decided = new Promise<((c: pg.PoolClient) => Promise<void>) | undefined>(
    (r) => (decide = r),
  )
  let client!: pg.PoolClient
  let entered!: () => void
  const ready = new Promise<void>((r) => (entered = r))
  const run = locked(async (c) => {
    client = c
    await first(c)
    entered()
    const last = await decided
    if (last === undefined) throw ABORT
    await last(c)
  })
  // Boxed, so that even a falsy rejection is rethrown as it is.
  const failed = run.then(
    () => undefined,
    (error: unknown) => ({ error }),
  )
  const early = await Promise.race([ready.then(() => undefined), failed])
  if (early !== undefined) throw early.error
  return {
    client,
    async commit(fn) {
      decide(fn)
      await run
    },
    async abort() {
      decide(undefined)
      await run.catch(() => {})
    },
  }
}

/**
 * Runs `fn` on one client inside a read-only `REPEATABLE READ` transaction (one snapshot of every
 * table, however long `fn` reads), rolled back after; `setup` is sent with the `BEGIN`.
 */
export async function inSnapshot<R>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<R>,
  setup = '',
): Promise<R> {
  const client = await pool.connect()
  try {
    await client.query(`begin isolation level repeatable read read only;${setup}`)
    try {
      return await fn(client)
    } finally {
      await client.query('rollback')
    }
  } finally {
    client.release()
  }
}
