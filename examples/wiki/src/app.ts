import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import formbody from '@fastify/formbody'
import { tenancy } from '@tenantry/context'
import { firstOf, fromPath, fromSubdomain, tenantry } from '@tenantry/fastify'
import type { Logger } from '@tenantry/log'
import { Outbox } from '@tenantry/mail'
import { attachRealtime, createRealtime, realtimePlugin } from '@tenantry/realtime'
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import { adminRoutes } from './routes/admin.js'
import { MAX_ATTACHMENT_BYTES } from './routes/attachments.js'
import { sendHtml, type WikiServices } from './routes/shared.js'
import { wikiRoutes } from './routes/wiki.js'
import { configureWiki, createWiki, createWikiStore, destroyWiki } from './tenancy.js'
import { errorView } from './views/admin.js'

/** Options of {@link buildApp}. */
export interface WikiAppOptions {
  /** Data folder (SQLite files, attachments); created when missing. */
  dataDir: string
  /** PostgreSQL connection string: wikis become schemas instead of SQLite files. */
  databaseUrl?: string | undefined
  /** Prefix of the PostgreSQL schemas; default `wiki_`. */
  schemaPrefix?: string | undefined
  /** Domain under which `{tenant}.{root}` is a wiki; default `localhost`. */
  root?: string | undefined
  /** Link template used in mails; default `http://{tenant}.localhost:3000`. */
  publicUrl?: string | undefined
  /** A pino logger (from `@tenantry/log`: lines carry the tenant); default: no logging. */
  logger?: Logger | undefined
}

/** The wiki's Fastify instance, with its services for seeding and tests. */
export type WikiApp = FastifyInstance & { readonly wiki: WikiServices }

const STATUS_OF: Record<string, number> = {
  TENANTRY_SETTINGS_INVALID: 400,
  TENANTRY_STORAGE_PATH: 400,
  TENANTRY_STORAGE_NOT_FOUND: 404,
  TENANTRY_TENANT_EXISTS: 409,
  // Another process destroyed the wiki between this request's check and its action.
  TENANTRY_UNKNOWN_TENANT: 404,
}

/**
 * Builds the wiki: configures the shared tenancy (store, settings, renderer, mail, storage),
 * registers `@tenantry/fastify` with subdomain and path resolvers, and the routes. Closing the
 * app closes every tenant's resources and the store. One app per process: the getters use the
 * process-wide tenancy.
 */
export async function buildApp(options: WikiAppOptions): Promise<WikiApp> {
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const root = options.root ?? 'localhost'
  const outbox = new Outbox()
  const store = createWikiStore({
    dataDir,
    databaseUrl: options.databaseUrl,
    schemaPrefix: options.schemaPrefix,
  })
  const settings = configureWiki({
    store,
    dataDir,
    outbox,
    publicUrl: options.publicUrl ?? `http://{tenant}.${root}:3000`,
  })
  const live = createRealtime()
  attachRealtime(store, live) // destroying a wiki closes its live pages first
  const services: WikiServices = {
    store,
    settings,
    outbox,
    live,
    dataDir,
    root,
    createWiki: (name) => createWiki(store, settings, name),
    destroyWiki: (name) => destroyWiki(store, name),
  }

  const app = (options.logger === undefined
    ? Fastify({ logger: false })
    : Fastify({ loggerInstance: options.logger })) as unknown as FastifyInstance
  app.decorate('wiki', services)
  app.addHook('onClose', async () => {
    await tenancy.close() // every tenant's renderer, mailer, settings and database handle
    await store.close()
  })

  await app.register(formbody, { bodyLimit: 1024 * 1024 })
  // Uploads are parsed by the route with Node's own FormData parser; here they are only read.
  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer', bodyLimit: MAX_ATTACHMENT_BYTES + 64 * 1024 },
    (_request, body, done) => done(null, body),
  )
  await app.register(tenantry, {
    resolve: firstOf(fromSubdomain({ root }), fromPath('/t/:tenant')),
  })
  await app.register(realtimePlugin, { hub: live }) // WebSockets resolve their wiki like requests

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const code = typeof error.code === 'string' ? error.code : undefined
    const status =
      (code !== undefined ? STATUS_OF[code] : undefined) ??
      (typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500)
    if (status >= 500) request.log.error({ err: error }, 'wiki: request failed')
    const message =
      status >= 500 ? 'Something went wrong; the server log has the details.' : error.message
    return sendHtml(reply, errorView(status, message, code), status)
  })
  app.setNotFoundHandler((request, reply) =>
    sendHtml(reply, errorView(404, `Nothing at ${request.url}.`), 404),
  )

  app.get('/healthz', { config: { tenant: false } }, async () => ({ ok: true }))
  await app.register(adminRoutes, { services, pathForm: false })
  await app.register(wikiRoutes, { services, pathForm: false })
  await app.register(wikiRoutes, { services, pathForm: true, prefix: '/t/:tenant' })
  return app as WikiApp
}
