// The migrations of sqlite-hot.bench.ts's migrate-all run, in a module of their own so that
// worker threads can import them (`migrationsModule`).
import type { Migration } from 'kysely'
import { pageMigrations } from './fixtures.ts'

/** The page schema plus one new migration (a column). */
export const migrations: Record<string, Migration> = {
  ...pageMigrations,
  '002_tag': {
    async up(db) {
      await db.schema.alterTable('page').addColumn('tag', 'text').execute()
    },
  },
}
