import type Database from 'better-sqlite3'
import type { SqliteDatabase } from 'kysely'
import { AttachRefusedError } from './errors.js'

/**
 * Refuses statements that open other database files: `ATTACH` and `VACUUM ... INTO`.
 * better-sqlite3 exposes neither SQLite's authorizer nor `sqlite3_limit`, so the guard reads
 * the statement's leading keyword. That is sound because better-sqlite3 prepares exactly one
 * statement per call and SQLite only accepts ATTACH as a statement's first keyword (never
 * inside an expression, a CTE or a trigger body). Leading white space, comments and empty
 * statements (`;`) are skipped the way SQLite's tokenizer skips them.
 */
export function assertNoFileAccess(sql: string): void {
  let i = 0
  const n = sql.length
  for (;;) {
    const c = sql.charCodeAt(i)
    if (c === 32 || c === 9 || c === 10 || c === 12 || c === 13 || c === 59) i++
    else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const end = sql.indexOf('\n', i)
      i = end < 0 ? n : end + 1
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const end = sql.indexOf('*/', i + 2)
      i = end < 0 ? n : end + 2
    } else break
  }
  const word = /^[A-Za-z]+/.exec(sql.slice(i, i + 8))?.[0].toUpperCase()
  if (word === 'ATTACH') throw new AttachRefusedError('ATTACH')
  if (word === 'VACUUM' && /\binto\b/i.test(sql.slice(i + 6)))
    throw new AttachRefusedError('VACUUM INTO')
}

/** Wraps a better-sqlite3 handle for Kysely so that every statement passes the guard. */
export function guarded(
  db: Database.Database,
  ownsHandle = true,
): SqliteDatabase & { readonly raw: Database.Database } {
  return {
    raw: db,
    prepare(sql: string) {
      assertNoFileAccess(sql)
      return db.prepare(sql)
    },
    close() {
      if (ownsHandle && db.open) db.close()
    },
  }
}

/** Wraps a handle for Kysely without the guard (the central database is trusted). */
export function unguarded(
  db: Database.Database,
  ownsHandle = true,
): SqliteDatabase & { readonly raw: Database.Database } {
  return {
    raw: db,
    prepare: (sql: string) => db.prepare(sql),
    close() {
      if (ownsHandle && db.open) db.close()
    },
  }
}
