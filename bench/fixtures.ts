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
