// The wiki's resource types, declared the way every tenantry application does: by augmenting
// the core's Resources interface. getDb(), getMail() & co. are then typed everywhere.
import { getResource } from '@tenantry/context'
import type { TenantMailer } from '@tenantry/mail'
import type { TenantSettings } from '@tenantry/settings'
import type { Storage } from '@tenantry/storage'
import type { Kysely } from 'kysely'
import type { WikiDB } from './migrations.js'
import type { Renderer, WikiSettings } from './renderer.js'

declare module '@tenantry/context' {
  interface Resources {
    /** The current wiki's database (SQLite file or PostgreSQL schema). */
    db: Kysely<WikiDB>
    /** The current wiki's attachment storage. */
    storage: Storage
    /** The current wiki's mailer. */
    mail: TenantMailer
    /** The current wiki's Markdown renderer (built from its settings). */
    renderer: Renderer
    /** The current wiki's settings, loaded when the request entered the tenant. */
    settings: TenantSettings<WikiSettings>
  }
}

/** The current wiki's settings values, as loaded when the request entered the tenant. */
export const wikiSettings = (): Readonly<WikiSettings> => getResource('settings').values
