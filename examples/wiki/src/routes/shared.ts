import { TenantryError } from '@tenantry/context'
import type { Outbox } from '@tenantry/mail'
import type { Realtime } from '@tenantry/realtime'
import type { SettingsDefinition } from '@tenantry/settings'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { WikiSettings } from '../renderer.js'
import { wikiSettings } from '../resources.js'
import type { WikiStore } from '../tenancy.js'
import type { SafeHtml } from '../views/html.js'
import type { WikiView } from '../views/layout.js'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_WIKI_NOT_FOUND: true
    TENANTRY_WIKI_BAD_REQUEST: true
  }
}

/** What the routes share: the store, the settings definition, the outbox. */
export interface WikiServices {
  /** The tenant store (SQLite or PostgreSQL). */
  readonly store: WikiStore
  /** The settings definition (for `updateFor` from the admin). */
  readonly settings: SettingsDefinition<WikiSettings>
  /** Where every wiki's mail goes. */
  readonly outbox: Outbox
  /** Live page updates (WebSocket), per tenant. */
  readonly live: Realtime
  /** The data folder (attachments, SQLite files). */
  readonly dataDir: string
  /** The domain under which `{tenant}.{root}` names a wiki, e.g. `localhost`. */
  readonly root: string
  /** Creates a wiki with its settings and welcome page. */
  createWiki(name: string): Promise<void>
  /** Destroys a wiki, its files and its mail. */
  destroyWiki(name: string): Promise<void>
}

/** Options of the route plugins. */
export interface RouteOptions {
  /** The shared services. */
  services: WikiServices
  /** True for the `/t/:tenant` copy of the routes (links keep that prefix). */
  pathForm: boolean
}

/** An HTTP error of the wiki itself (missing page, bad form): rendered as an HTML page. */
export class WikiHttpError extends TenantryError {
  /** The HTTP status Fastify's error handler replies with. */
  override readonly statusCode: number

  constructor(statusCode: 400 | 404 | 409 | 413, message: string) {
    super(statusCode === 404 ? 'TENANTRY_WIKI_NOT_FOUND' : 'TENANTRY_WIKI_BAD_REQUEST', message)
    this.statusCode = statusCode
  }
}

/** The frame data of a tenant page: tenant, link prefix and title. */
export function viewOf(request: FastifyRequest, pathForm: boolean): WikiView {
  const tenant = request.tenant!
  return { tenant, base: pathForm ? `/t/${tenant}` : '', title: wikiSettings().title }
}

/** Replies with an HTML page. */
export function sendHtml(reply: FastifyReply, page: SafeHtml, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page.value)
}

/** A text field of a url-encoded form (trimmed; `''` when absent). */
export function field(body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[name]
  const s = Array.isArray(v) ? v[0] : v
  return typeof s === 'string' ? s.trim() : ''
}

/** A field kept as typed (Markdown keeps its white space), with line endings normalised. */
export function textField(body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | undefined)?.[name]
  const s = Array.isArray(v) ? v[0] : v
  return typeof s === 'string' ? s.replace(/\r\n?/g, '\n') : ''
}

/** A page slug from a title: `Hello, World!` → `hello-world`. */
export function slugify(title: string): string {
  const slug = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '')
  // `new` is the create form's own path.
  return slug === '' ? 'page' : slug === 'new' ? 'new-page' : slug
}

/** True for something {@link slugify} could have made (route parameters are checked with it). */
export function isSlug(s: string): boolean {
  return /^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$/.test(s)
}
