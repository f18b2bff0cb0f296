import { configureTenancy, getDb, withTenant } from '@tenantry/context'
import type { TenantDatabaseStore } from '@tenantry/kysely'
import { mailResource, type Outbox } from '@tenantry/mail'
import { createPostgresTenantDatabases } from '@tenantry/postgres'
import { attachSettings, defineSettings, type SettingsDefinition } from '@tenantry/settings'
import { createTenantDatabases } from '@tenantry/sqlite'
import { attachStorage, localStorageResource } from '@tenantry/storage'
import { type WikiDB, wikiMigrations } from './migrations.js'
import {
  createRenderer,
  settingsDefaults,
  validateSettings,
  type WikiSettings,
} from './renderer.js'
import { wikiSettings } from './resources.js'

/** Where wikis live: the one thing that differs between SQLite and PostgreSQL. */
export interface WikiStoreOptions {
  /** Data folder: SQLite files (default backend) and every wiki's attachments. */
  dataDir: string
  /** A PostgreSQL connection string: use one schema per wiki instead of SQLite files. */
  databaseUrl?: string | undefined
  /** Prefix of the wikis' PostgreSQL schemas; default `wiki_`. */
  schemaPrefix?: string | undefined
}

/** A tenant store (SQLite or PostgreSQL): lifecycle, operations, `db` for `getDb()`. */
export interface WikiStore extends TenantDatabaseStore<WikiDB> {
  /** `sqlite` or `postgres`, for the start-up banner. */
  readonly kind: 'sqlite' | 'postgres'
}

/**
 * Builds the tenant store. This is the only place the backend shows: both stores implement
 * the same `TenantStore` and serve a `Kysely<WikiDB>` through `getDb()`, so routes never know.
 */
export function createWikiStore(options: WikiStoreOptions): WikiStore {
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    const store = createPostgresTenantDatabases<WikiDB>({
      connectionString: options.databaseUrl,
      migrations: wikiMigrations,
      schemaPrefix: options.schemaPrefix ?? 'wiki_',
    })
    return Object.assign(store, { kind: 'postgres' as const })
  }
  const store = createTenantDatabases<WikiDB>({ root: options.dataDir, migrations: wikiMigrations })
  return Object.assign(store, { kind: 'sqlite' as const })
}

/** Options of {@link configureWiki}. */
export interface ConfigureWikiOptions {
  /** The store from {@link createWikiStore}. */
  store: WikiStore
  /** Data folder of the attachments (`dataDir/tenants/{tenant}/files`). */
  dataDir: string
  /** Every wiki's mail lands here (the demo delivers nothing). */
  outbox: Outbox
  /** Links in mails, e.g. `http://{tenant}.localhost:3000`. */
  publicUrl: string
}

/**
 * Registers the wiki's per-tenant resources on the shared tenancy, in dependency order: `db`
 * (the store), `settings` (eager, read from `db`), then the lazy `renderer` and `mail` built
 * from the settings, and `storage`. Settings name `renderer` and `mail` as dependents, so an
 * update rebuilds them on the tenant's next request, without a restart.
 */
export function configureWiki(options: ConfigureWikiOptions): SettingsDefinition<WikiSettings> {
  options.store.install()
  const settings = defineSettings<WikiSettings>({
    defaults: settingsDefaults,
    dependents: ['renderer', 'mail'],
    validate: validateSettings,
  })
  configureTenancy({
    resources: {
      settings,
      renderer: { create: () => createRenderer(wikiSettings()), tenantOnly: true },
      mail: mailResource({
        settings: (tenant) => ({
          from: { name: wikiSettings().title, address: `wiki@${tenant}.localhost` },
          baseUrl: options.publicUrl,
        }),
        outbox: options.outbox,
      }),
      storage: localStorageResource({ root: options.dataDir }),
    },
  })
  attachWikiFootprint(options.store, options)
  attachSettings(options.store, settings)
  return settings
}

/**
 * A wiki's whole footprint follows its database: destroying it (admin page, API, `tenantry
 * destroy`) removes its attachments and sent mail, a new wiki of the same name inherits
 * neither, and backups, exports and clones carry the attachments. `tenantry.config.ts` calls
 * it too, so the CLI destroys the same footprint.
 */
export function attachWikiFootprint(
  store: WikiStore,
  options: { dataDir: string; outbox?: Outbox },
): void {
  attachStorage(store, { root: options.dataDir })
  const outbox = options.outbox
  if (outbox === undefined) return
  const clearMail = ({ tenant }: { tenant: string }) => outbox.clear(tenant)
  store.lifecycle.on('creating', clearMail)
  store.lifecycle.on('destroyed', clearMail)
}

/** The welcome page every new wiki starts with. */
export function welcomePage(tenant: string): { title: string; body: string } {
  return {
    title: 'Welcome',
    body: [
      `# Welcome to the ${tenant} wiki`,
      '',
      `This page lives in **${tenant}**'s own database; no other wiki can see it.`,
      '',
      '- Edit it, or create a new page from the list.',
      '- Change the title or the allowed HTML on the *settings* page: it applies at once.',
      '- Every save sends a notification: see the *outbox*.',
      '',
      'Raw HTML is filtered by the settings: <mark>this is highlighted</mark> only when `mark` is allowed.',
    ].join('\n'),
  }
}

/**
 * Creates a wiki: its database (migrated), its settings and a welcome page. A failure after
 * the database exists destroys it again, so the admin never lists a half-made wiki.
 */
export async function createWiki(
  store: WikiStore,
  settings: SettingsDefinition<WikiSettings>,
  tenant: string,
): Promise<void> {
  await store.createTenant(tenant)
  try {
    const title = `${tenant.charAt(0).toUpperCase()}${tenant.slice(1)} wiki`
    await settings.updateFor(tenant, { title, notify: `editors@${tenant}.example.com` })
    await withTenant(
      tenant,
      async () => {
        const { title: pageTitle, body } = welcomePage(tenant)
        const now = new Date().toISOString()
        const db = getDb()
        await db
          .insertInto('pages')
          .values({
            slug: 'welcome',
            title: pageTitle,
            body,
            revision: 1,
            created_at: now,
            updated_at: now,
          })
          .execute()
        await db
          .insertInto('revisions')
          .values({
            slug: 'welcome',
            revision: 1,
            title: pageTitle,
            body,
            summary: 'created',
            created_at: now,
          })
          .execute()
      },
      { allowSwitch: true },
    )
  } catch (error) {
    await store.destroyTenant(tenant).catch(() => {})
    throw error
  }
}

/**
 * Destroys a wiki: its live pages are closed (`attachRealtime`, on `destroying`), then its
 * database (after in-flight requests finish) and, through the store's lifecycle (see
 * {@link configureWiki}), its files, settings and sent mail.
 */
export async function destroyWiki(store: WikiStore, tenant: string): Promise<void> {
  await store.destroyTenant(tenant)
}
