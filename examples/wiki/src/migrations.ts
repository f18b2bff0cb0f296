import { settingsMigrations } from '@tenantry/settings'
import type { Kysely, Migration } from 'kysely'

/** A wiki page: its latest revision, addressed by slug. */
export interface PageRow {
  slug: string
  title: string
  body: string
  revision: number
  created_at: string
  updated_at: string
}

/** Every saved version of a page, kept for the history view. */
export interface RevisionRow {
  slug: string
  revision: number
  title: string
  body: string
  summary: string
  created_at: string
}

/** The tenant database of one wiki (the same on SQLite and PostgreSQL). */
export interface WikiDB {
  pages: PageRow
  revisions: RevisionRow
}

// Natural keys and ISO-text timestamps only: no autoincrement or date types, so one set of
// migrations runs unchanged on SQLite (file per tenant) and PostgreSQL (schema per tenant).
const pages: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('pages')
      .addColumn('slug', 'varchar(100)', (c) => c.primaryKey())
      .addColumn('title', 'varchar(200)', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .execute()
    await db.schema
      .createTable('revisions')
      .addColumn('slug', 'varchar(100)', (c) => c.notNull())
      .addColumn('revision', 'integer', (c) => c.notNull())
      .addColumn('title', 'varchar(200)', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('summary', 'varchar(200)', (c) => c.notNull())
      .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
      .addPrimaryKeyConstraint('revisions_pk', ['slug', 'revision'])
      .execute()
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('revisions').execute()
    await db.schema.dropTable('pages').execute()
  },
}

/** The wiki's tenant migrations: `@tenantry/settings`' table, then pages and revisions. */
export const wikiMigrations: Record<string, Migration> = {
  ...settingsMigrations,
  '0001_pages': pages,
}
