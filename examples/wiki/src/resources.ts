// Typed getters for the wiki's resources.
//
// An application normally types getDb() & co. once with
//   declare module '@tenantry/context' { interface Resources { db: Kysely<WikiDB>; ... } }
// This wiki lives in the monorepo, whose one `pnpm typecheck` program also compiles every
// package's tests, and those declare the same names with other types (`withOverrides({ mail:
// 'fake' })`): a global augmentation here would break them. So the wiki casts once, here.
import { getDb, getMail, getRenderer, getResource, getStorage } from '@tenantry/context'
import type { TenantMailer } from '@tenantry/mail'
import type { TenantSettings } from '@tenantry/settings'
import type { Storage } from '@tenantry/storage'
import type { Kysely } from 'kysely'
import type { WikiDB } from './migrations.js'
import type { Renderer, WikiSettings } from './renderer.js'

/** The current wiki's database (SQLite file or PostgreSQL schema). */
export const wikiDb = (): Kysely<WikiDB> => getDb() as Kysely<WikiDB>

/** The current wiki's attachment storage. */
export const wikiStorage = (): Storage => getStorage() as Storage

/** The current wiki's mailer. */
export const wikiMail = (): TenantMailer => getMail() as TenantMailer

/** The current wiki's Markdown renderer (built from its settings). */
export const wikiRenderer = (): Renderer => getRenderer() as Renderer

/** The current wiki's settings, as loaded when the request entered the tenant. */
export const wikiSettings = (): Readonly<WikiSettings> =>
  (getResource('settings') as TenantSettings<WikiSettings>).values
