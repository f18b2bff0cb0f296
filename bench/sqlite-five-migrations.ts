// The migrations of sqlite.bench.ts's "one new migration" run, in a module of their own so that
// worker threads can import them (`migrationsModule`): the five tables plus a sixth migration.
import type { Migration } from 'kysely'
import { fiveTableMigrations } from './fixtures.ts'

/** The five-table schema with its sixth migration (a column). */
export const migrations: Record<string, Migration> = fiveTableMigrations(true)
