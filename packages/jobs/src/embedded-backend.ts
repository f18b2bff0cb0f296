// The embedded job backend: one SQLite table, its statements, enqueue and the recording of
// outcomes. The claim loop that runs jobs is in embedded-consumer.ts.
import { describe } from '@tenantry/context/internal'
import Database from 'better-sqlite3'
import {
  backoffDelay,
  type ConsumeOptions,
  type JobBackend,
  type JobConsumer,
  type JobInfo,
  type JobOutcome,
  type JobProcessor,
  type NewJob,
} from './backend.js'
import { EmbeddedConsumer } from './embedded-consumer.js'
import { JobBackendClosedError, JobConfigError } from './errors.js'

/** Options of {@link createEmbeddedBackend}. */
export interface EmbeddedBackendOptions {
  /** The SQLite file (created if missing). Give either this or `database`. */
  file?: string
  /**
   * An open better-sqlite3 connection to store jobs in (e.g. the central database); the backend
   * creates its table there and does not close the connection.
   */
  database?: Database.Database
  /** The table name; default `tenantry_jobs`. */
  table?: string
  /**
   * How long a claimed job belongs to its worker (ms; default 30000). The worker renews the
   * lease while the job runs; if the worker dies, the job is handed out again once it lapses.
   */
  leaseMs?: number
  /** How often idle consumers look for due jobs written by other processes (ms; default 100). */
  pollIntervalMs?: number
  /** Keep completed jobs (state `completed`) instead of deleting them; default false. */
  keepCompleted?: boolean
  /** SQLite `synchronous`: `NORMAL` (default, WAL: survives a process crash) or `FULL` (survives power loss). */
  synchronous?: 'NORMAL' | 'FULL'
}

/** One row of the jobs table, as the claim returns it. */
export interface Row {
  id: number
  name: string
  tenant: string | null
  payload: string
  state: JobInfo['state']
  attempts_made: number
  max_attempts: number
  backoff_type: 'exponential' | 'fixed'
  backoff_delay: number
  last_error: string | null
}

/**
 * The default backend: jobs in a SQLite table (WAL), claimed atomically in IMMEDIATE
 * transactions with a lease, so several workers and processes can share one file. Durable
 * across restarts, at-least-once, retries with backoff, delays; no server.
 */
export function createEmbeddedBackend(options: EmbeddedBackendOptions): JobBackend {
  return new EmbeddedBackend(options)
}

/** The embedded backend: the table, its statements, enqueueing and recording outcomes. */
export class EmbeddedBackend implements JobBackend {
  readonly kind = 'embedded'
  readonly db: Database.Database
  private readonly ownsDb: boolean
  private readonly t: string
  readonly leaseMs: number
  readonly pollIntervalMs: number
  private readonly keepCompleted: boolean
  private readonly consumers = new Set<EmbeddedConsumer>()
  private closed = false
  private readonly insert: Database.Statement
  private readonly insertMany: (jobs: readonly NewJob[]) => string[]
  private readonly select: Database.Statement
  private readonly completeStmt: Database.Statement
  private readonly retryStmt: Database.Statement
  private readonly failStmt: Database.Statement
  private readonly renewStmt: Database.Statement

  constructor(options: EmbeddedBackendOptions) {
    const table = options.table ?? 'tenantry_jobs'
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table))
      throw new JobConfigError(`Embedded job backend: table name "${table}" must be an identifier.`)
    if ((options.file === undefined) === (options.database === undefined))
      throw new JobConfigError('Embedded job backend: give exactly one of `file` or `database`.')
    this.leaseMs = options.leaseMs ?? 30_000
    this.pollIntervalMs = options.pollIntervalMs ?? 100
    if (!(this.leaseMs > 0 && this.pollIntervalMs > 0))
      throw new JobConfigError('Embedded job backend: leaseMs and pollIntervalMs must be > 0.')
    this.keepCompleted = options.keepCompleted ?? false
    this.t = `"${table}"`
    this.ownsDb = options.database === undefined
    this.db = options.database ?? new Database(options.file!, { timeout: 10_000 })
    if (this.ownsDb) {
      this.db.pragma('journal_mode = WAL')
      this.db.pragma(`synchronous = ${options.synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`)
    }
    const t = this.t
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${t} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        tenant TEXT,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts_made INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL,
        backoff_type TEXT NOT NULL,
        backoff_delay INTEGER NOT NULL,
        run_at INTEGER NOT NULL,
        token TEXT,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS "${table}_due" ON ${t} (run_at) WHERE state IN ('waiting', 'active');
    `)
    this.insert = this.db.prepare(
      `INSERT INTO ${t} (name, tenant, payload, state, max_attempts, backoff_type, backoff_delay, run_at, created_at)
       VALUES (@name, @tenant, @payload, 'waiting', @attempts, @backoffType, @backoffDelay, @runAt, @now)`,
    )
    const many = this.db.transaction((jobs: readonly NewJob[]) =>
      jobs.map((job) => String(this.insert.run(this.params(job)).lastInsertRowid)),
    )
    this.insertMany = (jobs) => many.immediate(jobs)
    this.select = this.db.prepare(`SELECT * FROM ${t} WHERE id = ?`)
    this.completeStmt = this.keepCompleted
      ? this.db.prepare(
          `UPDATE ${t} SET state = 'completed', token = NULL, finished_at = @now WHERE id = @id AND token = @token`,
        )
      : this.db.prepare(`DELETE FROM ${t} WHERE id = @id AND token = @token`)
    this.retryStmt = this.db.prepare(
      `UPDATE ${t} SET state = 'waiting', token = NULL, run_at = @runAt, last_error = @error WHERE id = @id AND token = @token`,
    )
    this.failStmt = this.db.prepare(
      `UPDATE ${t} SET state = 'failed', token = NULL, finished_at = @now, last_error = @error WHERE id = @id AND token = @token`,
    )
    this.renewStmt = this.db.prepare(
      `UPDATE ${t} SET run_at = @runAt WHERE id = @id AND token = @token AND state = 'active'`,
    )
  }

  async enqueue(job: NewJob): Promise<string> {
    this.assertOpen()
    const id = String(this.insert.run(this.params(job)).lastInsertRowid)
    this.notify()
    return id
  }

  async enqueueMany(jobs: readonly NewJob[]): Promise<string[]> {
    this.assertOpen()
    const ids = this.insertMany(jobs)
    this.notify()
    return ids
  }

  consume(processor: JobProcessor, options: ConsumeOptions): JobConsumer {
    this.assertOpen()
    const consumer = new EmbeddedConsumer(this, processor, options, () =>
      this.consumers.delete(consumer),
    )
    this.consumers.add(consumer)
    return consumer
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    this.assertOpen()
    const row = this.select.get(Number(id)) as Row | undefined
    if (row === undefined) return undefined
    return {
      id: String(row.id),
      name: row.name,
      tenant: row.tenant,
      state: row.state,
      attemptsMade: row.attempts_made,
      lastError: row.last_error ?? undefined,
    }
  }

  async removeTenantJobs(tenant: string): Promise<number> {
    this.assertOpen()
    // A running job's row goes too: its finish() matches no row, so it is never retried.
    return this.db.prepare(`DELETE FROM ${this.t} WHERE tenant = ?`).run(tenant).changes
  }

  async close(): Promise<void> {
    if (this.closed) return
    await Promise.all([...this.consumers].map((c) => c.close()))
    this.closed = true
    if (this.ownsDb) this.db.close()
  }

  /** Prepares the claim statement for one set of job names. */
  claimer(names: readonly string[]): (limit: number, token: string) => Row[] {
    const t = this.t
    const placeholders = names.map(() => '?').join(', ')
    const claim = this.db.prepare(
      `UPDATE ${t} SET state = 'active', attempts_made = attempts_made + 1, run_at = ?, token = ?
       WHERE id IN (
         SELECT id FROM ${t}
         WHERE state IN ('waiting', 'active') AND run_at <= ? AND name IN (${placeholders})
         ORDER BY run_at, id LIMIT ?
       )
       RETURNING id, name, tenant, payload, state, attempts_made, max_attempts, backoff_type, backoff_delay, last_error`,
    )
    const stalled = this.db.prepare(
      `UPDATE ${t} SET state = 'failed', token = NULL, finished_at = ?, last_error = ? WHERE id = ?`,
    )
    // IMMEDIATE takes the write lock before reading, so two processes can never both select
    // the same due row; the token then ties every later write to this claim.
    const tx = this.db.transaction((limit: number, token: string) => {
      const now = Date.now()
      const rows = claim.all(now + this.leaseMs, token, now, ...names, limit) as Row[]
      const live: Row[] = []
      for (const row of rows) {
        if (row.attempts_made > row.max_attempts) {
          // It was active with a lapsed lease on its last attempt: its worker died every time.
          stalled.run(
            now,
            `The worker running attempt ${row.max_attempts} stopped (lease of ${this.leaseMs} ms lapsed); no attempts left.`,
            row.id,
          )
        } else live.push(row)
      }
      return live
    })
    return (limit, token) => tx.immediate(limit, token)
  }

  /** The earliest `run_at` among claimable jobs of these names, if any. */
  nextDue(names: readonly string[]): () => number | undefined {
    const stmt = this.db.prepare(
      `SELECT MIN(run_at) AS next FROM ${this.t} WHERE state IN ('waiting', 'active') AND name IN (${names.map(() => '?').join(', ')})`,
    )
    return () => (stmt.get(...names) as { next: number | null }).next ?? undefined
  }

  /** Records an attempt's outcome, if this claim still owns the job. */
  finish(row: Row, token: string, outcome: JobOutcome): void {
    if (this.closed) return
    const now = Date.now()
    if (outcome.ok) {
      this.completeStmt.run({ id: row.id, token, now })
      return
    }
    const error = describe(outcome.error)
    if (outcome.permanent || row.attempts_made >= row.max_attempts) {
      this.failStmt.run({ id: row.id, token, now, error })
      return
    }
    const wait = backoffDelay(
      { type: row.backoff_type, delay: row.backoff_delay },
      row.attempts_made,
    )
    this.retryStmt.run({ id: row.id, token, runAt: now + wait, error })
  }

  /** Extends the leases of running jobs. */
  renew(running: Iterable<[number, string]>): void {
    if (this.closed) return
    const runAt = Date.now() + this.leaseMs
    this.db.transaction(() => {
      for (const [id, token] of running) this.renewStmt.run({ id, token, runAt })
    })()
  }

  fail(row: Row, token: string, error: unknown): void {
    this.finish(row, token, { ok: false, error, permanent: true })
  }

  private params(job: NewJob): Record<string, unknown> {
    const now = Date.now()
    return {
      name: job.name,
      tenant: job.tenant,
      payload: JSON.stringify(job.payload),
      attempts: job.attempts,
      backoffType: job.backoff.type,
      backoffDelay: Math.round(job.backoff.delay),
      runAt: now + Math.round(job.delay),
      now,
    }
  }

  private notify(): void {
    for (const consumer of this.consumers) consumer.wake()
  }

  private assertOpen(): void {
    if (this.closed) throw new JobBackendClosedError(this.kind)
  }
}
