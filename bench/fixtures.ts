// The wiki-like schema the HTTP benchmarks read from: one `page` table keyed by slug.
import type { Kysely, Migration } from 'kysely'

/** A page row. */
export interface PageRow {
  slug: string
  title: string
  body: string
}

/** The tenant schema: `page (slug primary key, title, body)`. */
export const pageMigrations: Record<string, Migration> = {
  '001_page': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('page')
        .addColumn('slug', 'text', (c) => c.primaryKey())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .execute()
    },
  },
}

/** A 5-table schema with foreign keys and an index per table (`extra`: a sixth migration). */
export function fiveTableMigrations(extra = false): Record<string, Migration> {
  const m: Record<string, Migration> = {}
  const tables = ['account', 'page', 'revision', 'comment', 'attachment']
  tables.forEach((name, i) => {
    m[`00${i + 1}_${name}`] = {
      async up(db) {
        let t = db.schema
          .createTable(name)
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('title', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
        if (i > 0)
          t = t.addColumn('parent_id', 'integer', (c) => c.references(`${tables[i - 1]}.id`))
        await t.execute()
        await db.schema.createIndex(`${name}_title`).on(name).column('title').execute()
      },
    }
  })
  if (extra)
    m['006_tag'] = {
      async up(db) {
        await db.schema.alterTable('page').addColumn('tag', 'text').execute()
      },
    }
  return m
}
