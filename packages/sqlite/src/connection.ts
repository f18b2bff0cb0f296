import { accessSync, constants } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import {
  type DialectAdapter,
  type Driver,
  Kysely,
  type LogEvent,
  type QueryCompiler,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteQueryCompiler,
} from 'kysely'
import { type DriverOptions, type RawBacked, TenantSqliteDriver } from './driver.js'
import { isTransient, ReadOnlyStorageError } from './faults.js'

/** A pino-compatible logger: SQL lines go to `debug`, failed statements to `error`. */
export interface SqlLogger {
  debug(fields: object, message?: string): void
  error(fields: object, message?: string): void
}

/**
 * SQLite has transactional DDL; saying so makes Kysely's Migrator run a set in one transaction.
 * `isTransientError` is the hook `withTransaction` asks before re-running a transaction.
 */
export class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }

  /** True for errors a whole-transaction retry can cure (lock contention). */
  isTransientError(error: unknown): boolean {
    return isTransient(error)
  }
}

/** Configuration of {@link TenantSqliteDialect}: Kysely's, plus the driver's options. */
export interface TenantSqliteDialectConfig extends DriverOptions {
  database: RawBacked | (() => Promise<RawBacked>)
}

/**
 * One compiler for every handle: each one binds ~100 visitor functions (~6 KB a handle). Safe to
 * share because Kysely's `DefaultQueryCompiler.compileQuery` is synchronous and resets its SQL,
 * parameters and node stack at the start of every call (kysely 0.28 default-query-compiler.js).
 */
const sharedCompiler = new SqliteQueryCompiler()

/** `SqliteDialect` with {@link TransactionalSqliteAdapter} and {@link TenantSqliteDriver}. */
export class TenantSqliteDialect extends SqliteDialect {
  private readonly tenantConfig: TenantSqliteDialectConfig

  constructor(config: TenantSqliteDialectConfig) {
    super({ database: config.database as SqliteDialectConfig['database'] })
    this.tenantConfig = config
  }

  override createDriver(): Driver {
    const { database, ...options } = this.tenantConfig
    return new TenantSqliteDriver(database, options)
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter()
  }

  override createQueryCompiler(): QueryCompiler {
    return sharedCompiler
  }
}

/** Per-connection settings every handle gets (WAL itself is set once, at creation: it persists). */
export const CONNECTION_PRAGMAS = 'PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON'

/**
 * Opens a database file with the per-connection settings. `busyTimeoutMs` is SQLite's own busy
 * handler, which sleeps in the event loop: serving handles pass 0 and let the driver wait.
 * `readonly`: a connection that cannot write (nor checkpoint: it leaves `-wal` and `-shm` behind).
 * `readOnlyFallback`: on a read-only mount, where WAL cannot make its `-shm` file, the failure
 * becomes `TENANTRY_READ_ONLY` (documented) instead of SQLite's bare `SQLITE_CANTOPEN`.
 */
export function openFile(
  file: string,
  busyTimeoutMs: number,
  options: { mustExist: boolean; readOnlyFallback?: boolean; readonly?: boolean },
): Database.Database {
  let raw: Database.Database | undefined
  try {
    const readonly = options.readonly === true
    raw = new Database(file, { fileMustExist: options.mustExist, timeout: busyTimeoutMs, readonly })
    // Both settings only change what writes do: a read-only connection needs neither, but it
    // reads the schema here (which opens -wal and -shm), so that a failure is met in this try.
    if (readonly) raw.prepare('SELECT 1 FROM sqlite_schema LIMIT 0')
    else raw.exec(CONNECTION_PRAGMAS)
  } catch (error) {
    if (raw?.open) raw.close()
    if (options.readOnlyFallback && onReadOnlyMount(file))
      throw new ReadOnlyStorageError(undefined, file, {
        cause: error,
        reason:
          'a WAL database needs its -shm file, which a read-only mount cannot hold (better-sqlite3 cannot open it immutable); copy the data root or remount it read-write to read it',
      })
    throw error
  }
  return raw
}

/**
 * True when `file`'s folder (or, when it does not exist yet, its nearest existing ancestor)
 * sits on a read-only mount (`EROFS`; permissions do not count).
 */
export function onReadOnlyMount(file: string): boolean {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      accessSync(dir, constants.W_OK)
      return false
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EROFS') return true
      if (code !== 'ENOENT' || dirname(dir) === dir) return false
    }
  }
}

/** A Kysely over one handle, logging with `fields` (the tenant) when a logger is given. */
export function kyselyOver<DB>(
  database: RawBacked | (() => Promise<RawBacked>),
  logger: SqlLogger | undefined,
  fields: Record<string, unknown>,
  options: DriverOptions = {},
): Kysely<DB> {
  return new Kysely<DB>({
    dialect: new TenantSqliteDialect({
      database,
      ...(typeof fields.tenant === 'string' ? { tenant: fields.tenant } : {}),
      ...options,
    }),
    ...(logger === undefined ? {} : { log: sqlLog(logger, fields) }),
  })
}

function sqlLog(logger: SqlLogger, fields: Record<string, unknown>): (event: LogEvent) => void {
  return (event) => {
    const line = {
      ...fields,
      sql: event.query.sql,
      durationMs: Math.round(event.queryDurationMillis * 1000) / 1000,
    }
    if (event.level === 'error') logger.error({ ...line, err: event.error }, 'sql failed')
    else logger.debug(line, 'sql')
  }
}
