import Database from 'better-sqlite3'
import {
  type DialectAdapter,
  Kysely,
  type LogEvent,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
} from 'kysely'

/** A pino-compatible logger: SQL lines go to `debug`, failed statements to `error`. */
export interface SqlLogger {
  debug(fields: object, message?: string): void
  error(fields: object, message?: string): void
}

/** SQLite has transactional DDL; saying so makes Kysely's Migrator run a set in one transaction. */
class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
}

/** `SqliteDialect` with {@link TransactionalSqliteAdapter}. */
export class TenantSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter()
  }
}

/** Per-connection settings every handle gets (WAL itself is set once, at creation: it persists). */
export const CONNECTION_PRAGMAS = 'PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON'

/** Opens a database file with the per-connection settings. */
export function openFile(
  file: string,
  busyTimeoutMs: number,
  options: { mustExist: boolean },
): Database.Database {
  const raw = new Database(file, { fileMustExist: options.mustExist, timeout: busyTimeoutMs })
  try {
    raw.exec(CONNECTION_PRAGMAS)
  } catch (error) {
    raw.close()
    throw error
  }
  return raw
}

/** A Kysely over one handle, logging with `fields` (the tenant) when a logger is given. */
export function kyselyOver<DB>(
  database: SqliteDialectConfig['database'],
  logger: SqlLogger | undefined,
  fields: Record<string, unknown>,
): Kysely<DB> {
  return new Kysely<DB>({
    dialect: new TenantSqliteDialect({ database }),
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
