import type { Migration } from '@tenantry/kysely'
import type { Kysely } from 'kysely'

/** Name of the table holding the settings, one row per key, values as JSON text. */
export const SETTINGS_TABLE = 'tenantry_settings'

/** The Kysely migration that creates {@link SETTINGS_TABLE}. */
export const settingsMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable(SETTINGS_TABLE)
      .ifNotExists()
      .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
      .execute()
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable(SETTINGS_TABLE).ifExists().execute()
  },
}

/**
 * The package's migrations by name, to spread into an app's migration provider:
 * `{ ...settingsMigrations, '0001_pages': pages }`. The name sorts before typical app names.
 */
export const settingsMigrations: Record<string, Migration> = {
  '0000_tenantry_settings': settingsMigration,
}
