// The app's database: what an adopting team writes first. (`Migration` is not imported from
// `kysely`: Kysely 0.29 moved it to `kysely/migration`; this file compiles on both.)
import type { MigrationsOption } from '@tenantry/sqlite'
import type { Generated, Kysely } from 'kysely'

export interface DB {
  note: { id: Generated<number>; title: string }
}

export const migrations = {
  '001_note': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('note')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .execute()
    },
  },
} satisfies MigrationsOption
