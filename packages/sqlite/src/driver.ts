import { TenantryError } from '@tenantry/context'
import type Database from 'better-sqlite3'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  IdentifierNode,
  type QueryCompiler,
  type QueryResult,
  RawNode,
  SelectQueryNode,
  type SqliteDatabase,
  type TransactionSettings,
} from 'kysely'
import { DatabaseBusyError, isBusy, TenantGoneError, translateFault } from './faults.js'
import type { FileIdentity } from './identity.js'
import { writeTurn } from './lock.js'

/** What the tenantry SQLite driver needs besides the database. */
export interface DriverOptions {
  /** The tenant the handle belongs to (named in errors). */
  tenant?: string | undefined
  /** How long a lock may be waited for, asynchronously (ms); default 5000. */
  busyTimeoutMs?: number | undefined
  /** The handle's file identity: writes into a file another process deleted are refused. */
  identity?: FileIdentity | undefined
  /** Prepared statements kept per handle (least recently used go first); default 64, 0 = off. */
  statementCache?: number | undefined
  /** The database file: write transactions of one process on it take turns, in order. */
  file?: string | undefined
  /**
   * The read-write connection, opened on first need. With it, the handle's own database is
   * read-only and serves autocommit `SELECT`s and read-only transactions; every other statement
   * and write transaction runs on the writer (see `openServing`).
   */
  writer?: (() => Promise<RawBacked>) | undefined
}

/** A Kysely `SqliteDatabase` that also exposes its better-sqlite3 handle (see `guard.ts`). */
export type RawBacked = SqliteDatabase & { readonly raw?: Database.Database }

/**
 * Kysely's SQLite driver, rewritten for many processes on one file:
 * - write transactions start with `BEGIN IMMEDIATE`, so the write lock is taken before the
 *   first read (a deferred `BEGIN` that reads then writes fails with `SQLITE_BUSY_SNAPSHOT`,
 *   which no busy handler can retry); `accessMode: 'read only'` keeps a deferred `BEGIN`;
 * - lock waits poll asynchronously with jittered back-off instead of SQLite's busy handler,
 *   which sleeps inside the event loop: a process waiting for one tenant's lock keeps serving
 *   (and committing) its other tenants, so processes cannot stall each other in a ring;
 * - a statement outside a transaction that met `SQLITE_BUSY` did nothing and is retried;
 * - after the write lock is taken, and after every autocommit write, the file identity is
 *   checked: a write into a tenant another process destroyed is refused, never acknowledged;
 * - SQLite's fault results become errors with their own codes (`faults.ts`);
 * - prepared statements are cached per handle (Kysely prepares every query again otherwise);
 * - with a `writer`, reads and writes run on two connections (see `DriverOptions.writer`).
 */
export class TenantSqliteDriver implements Driver {
  private readonly source: RawBacked | (() => Promise<RawBacked>)
  private readonly options: DriverOptions
  private readonly mutex = new ConnectionMutex()
  private db: RawBacked | undefined
  private connection: TenantSqliteConnection | undefined

  constructor(database: RawBacked | (() => Promise<RawBacked>), options: DriverOptions = {}) {
    this.source = database
    this.options = options
  }

  async init(): Promise<void> {
    this.db = typeof this.source === 'function' ? await this.source() : this.source
    this.connection = new TenantSqliteConnection(this.db, this.options)
  }

  acquireConnection(): Promise<DatabaseConnection> {
    // One connection per handle: callers queue here (as in Kysely's own SQLite driver). Not
    // async: on Node 20 each promise made in a tenant's context costs an AsyncLocalStorage hook
    // call, and the free lock (the common case) needs only this one.
    const connection = this.connection!
    const wait = this.mutex.lock()
    return wait === undefined ? Promise.resolve(connection) : wait.then(() => connection)
  }

  async beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await (c as TenantSqliteConnection).begin(settings.accessMode === 'read only')
  }

  async commitTransaction(c: DatabaseConnection): Promise<void> {
    await c.executeQuery(CompiledQuery.raw('commit'))
    // A refused COMMIT leaves the transaction open: the turn ends with the rollback then.
    if ((c as TenantSqliteConnection).inTransaction !== true)
      (c as TenantSqliteConnection).endTurn()
  }

  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    const conn = c as TenantSqliteConnection
    try {
      // SQLite rolls back by itself after SQLITE_FULL, IOERR, NOMEM and some BUSY results; a
      // second ROLLBACK would fail and hide the error that caused it.
      if (conn.inTransaction !== false) await c.executeQuery(CompiledQuery.raw('rollback'))
    } finally {
      conn.endTurn()
    }
  }

  async savepoint(c: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await c.executeQuery(compile(savepointCommand('savepoint', name), queryId()))
  }

  async rollbackToSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await c.executeQuery(compile(savepointCommand('rollback to', name), queryId()))
  }

  async releaseSavepoint(
    c: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await c.executeQuery(compile(savepointCommand('release', name), queryId()))
  }

  releaseConnection(): Promise<void> {
    this.mutex.unlock()
    return DONE
  }

  async destroy(): Promise<void> {
    this.connection?.clearStatements()
    this.connection?.closeWriter()
    this.db?.close()
  }
}

/** One better-sqlite3 connection with its statement cache. */
interface Target {
  readonly db: RawBacked
  readonly statements: Map<string, Database.Statement>
}

const target = (db: RawBacked): Target => ({ db, statements: new Map() })

/** Statements that may run on the read-only connection (confirmed by `stmt.readonly`). */
const READ = /^\s*(?:select|with|values)\b/i

/** The one connection of a handle (one or two SQLite connections: a reader and a writer). */
class TenantSqliteConnection implements DatabaseConnection {
  private readonly main: Target
  private writer: Target | undefined
  private readonly openWriter: (() => Promise<RawBacked>) | undefined
  private readonly tenant: string | undefined
  private readonly busyTimeoutMs: number
  private readonly identity: FileIdentity | undefined
  private readonly cacheSize: number
  private readonly file: string | undefined
  /** The connection the transaction this driver began runs on. */
  private tx: Target | undefined
  private turn: (() => void) | undefined

  constructor(db: RawBacked, options: DriverOptions) {
    this.main = target(db)
    this.openWriter = options.writer
    this.tenant = options.tenant
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000
    this.identity = options.identity
    this.cacheSize = options.statementCache ?? 64
    this.file = options.file
  }

  /** Ends this connection's write turn in the process (see `writeTurn`). */
  endTurn(): void {
    const turn = this.turn
    this.turn = undefined
    turn?.()
    if (this.tx !== undefined && inTransaction(this.tx) !== true) this.tx = undefined
  }

  /** Whether SQLite has a transaction open (`undefined` when the handle is not better-sqlite3). */
  get inTransaction(): boolean | undefined {
    return inTransaction(this.tx ?? this.main)
  }

  async begin(readOnly: boolean): Promise<void> {
    if (!readOnly && this.file !== undefined) {
      this.turn = await writeTurn(this.file, this.busyTimeoutMs)
      if (this.turn === undefined) throw new DatabaseBusyError(this.tenant, this.busyTimeoutMs)
    }
    try {
      this.tx = readOnly || this.openWriter === undefined ? this.main : await this.write()
      await this.executeQuery(CompiledQuery.raw(readOnly ? 'begin' : 'begin immediate'))
    } catch (error) {
      this.endTurn()
      throw error
    }
    if (this.identity !== undefined && !this.identity.isLinked()) {
      this.prepare(this.tx, 'rollback').run()
      this.endTurn()
      throw new TenantGoneError(this.tenant ?? '?')
    }
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = compiled
    let on: Target
    let stmt: Database.Statement
    try {
      on = this.route(sql) ?? (await this.write())
      stmt = this.prepare(on, sql)
      if (on === this.main && this.tx === undefined && this.openWriter !== undefined) {
        if (!stmt.readonly) {
          // `WITH ... INSERT`, or a function with side effects: the writer's.
          this.main.statements.delete(sql)
          on = await this.write()
          stmt = this.prepare(on, sql)
        }
      }
    } catch (error) {
      throw translateFault(error, this.tenant)
    }
    const exec = stmt.reader
      ? () => ({ rows: stmt.all(parameters as unknown[]) as R[] })
      : () => {
          const { changes, lastInsertRowid } = stmt.run(parameters as unknown[])
          return {
            numAffectedRows: changes == null ? undefined : BigInt(changes),
            insertId: lastInsertRowid == null ? undefined : BigInt(lastInsertRowid),
            rows: [] as R[],
          }
        }
    let result: QueryResult<R>
    try {
      result = exec()
    } catch (error) {
      // Outside a transaction a busy statement did nothing: wait (without blocking) and retry.
      // `begin immediate` is such a statement too.
      if (!isBusy(error) || inTransaction(on) === true) throw this.fault(error)
      result = await this.retryBusy(exec, !stmt.readonly, on)
    }
    if (!stmt.readonly && this.identity !== undefined && inTransaction(on) === false) {
      // An autocommit write has committed by now: if the file was unlinked before it took the
      // lock, it landed in a deleted file and must not be acknowledged.
      if (!this.identity.isLinked()) throw new TenantGoneError(this.tenant ?? '?')
    }
    return result
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const { sql, parameters, query } = compiled
    if (!SelectQueryNode.is(query))
      throw new TenantryError(
        'TENANTRY_OPERATION_UNSUPPORTED',
        'The SQLite store streams only SELECT queries (.stream()); run writes with .execute().',
      )
    // Not from the cache: an iterating statement is busy until the stream ends.
    const stmt = (this.tx ?? this.main).db.prepare(sql) as Database.Statement
    for (const row of stmt.iterate(parameters as unknown[])) yield { rows: [row as R] }
  }

  clearStatements(): void {
    this.main.statements.clear()
    this.writer?.statements.clear()
  }

  /** Closes the writer (the handle owns it: `destroy` of a Kysely made with `writer`). */
  closeWriter(): void {
    this.writer?.db.close()
  }

  /**
   * Where `sql` runs: the transaction's connection; a connection a raw `BEGIN` left in a
   * transaction; the reader for reads; else the writer (`undefined`: not open yet).
   */
  private route(sql: string): Target | undefined {
    if (this.tx !== undefined) return this.tx
    if (this.openWriter === undefined) return this.main
    const w = this.writer
    if (w !== undefined && inTransaction(w) === true) return w
    if (inTransaction(this.main) === true) return this.main
    if (this.main.statements.has(sql) || READ.test(sql)) return this.main
    return w
  }

  private async write(): Promise<Target> {
    if (this.openWriter === undefined) return this.main
    const db = await this.openWriter()
    if (this.writer?.db !== db) this.writer = target(db)
    return this.writer
  }

  private prepare(on: Target, sql: string): Database.Statement {
    if (this.cacheSize === 0) return on.db.prepare(sql) as Database.Statement
    const cache = on.statements
    const hit = cache.get(sql)
    if (hit !== undefined) {
      // Move to the young end; Map iteration order is insertion order.
      cache.delete(sql)
      cache.set(sql, hit)
      return hit
    }
    const stmt = on.db.prepare(sql) as Database.Statement
    if (cache.size >= this.cacheSize) cache.delete(cache.keys().next().value!)
    cache.set(sql, stmt)
    return stmt
  }

  private async retryBusy<T>(exec: () => T, writes: boolean, on: Target): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs
    // An autocommit write waits in this process's queue too (BEGIN IMMEDIATE already holds a
    // turn), so a loop of transactions here cannot starve it.
    let turn: (() => void) | undefined
    if (writes && this.turn === undefined && this.file !== undefined) {
      turn = await writeTurn(this.file, this.busyTimeoutMs)
      if (turn === undefined) throw new DatabaseBusyError(this.tenant, this.busyTimeoutMs)
    }
    try {
      let delay = 1
      for (;;) {
        try {
          return exec()
        } catch (error) {
          if (!isBusy(error) || inTransaction(on) === true) throw this.fault(error)
        }
        if (Date.now() >= deadline) throw new DatabaseBusyError(this.tenant, this.busyTimeoutMs)
        // Jitter keeps processes that collided from colliding again in step.
        await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())))
        delay = Math.min(delay * 2, 25)
      }
    } finally {
      turn?.()
    }
  }

  private fault(error: unknown): unknown {
    if (isBusy(error))
      return new DatabaseBusyError(this.tenant, this.busyTimeoutMs, { cause: error })
    return translateFault(error, this.tenant)
  }
}

/** A connection's transaction state (`undefined` when it is not better-sqlite3 or closed). */
function inTransaction(t: Target): boolean | undefined {
  const raw = t.db.raw
  return raw === undefined || !raw.open ? undefined : raw.inTransaction
}

function savepointCommand(command: string, name: string): RawNode {
  return RawNode.createWithChildren([
    RawNode.createWithSql(`${command} `),
    IdentifierNode.create(name),
  ])
}

let queries = 0
function queryId(): { readonly queryId: string } {
  return { queryId: `tenantry-sp-${++queries}` }
}

class ConnectionMutex {
  private locked = false
  private readonly waiters: (() => void)[] = []

  /** Takes the lock: `undefined` when it was free (taken now), else a promise of the turn. */
  lock(): Promise<void> | undefined {
    if (!this.locked) {
      this.locked = true
      return undefined
    }
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Hands the lock to the first waiter (first come, first served), or frees it. */
  unlock(): void {
    const next = this.waiters.shift()
    if (next !== undefined) next()
    else this.locked = false
  }
}

/** What `releaseConnection` returns: one settled promise for every call. */
const DONE: Promise<void> = Promise.resolve()
