import type { FastifyPluginAsync } from 'fastify'
import { liveRoutes } from '../live.js'
import { adminHome } from './admin.js'
import { attachmentRoutes } from './attachments.js'
import { outboxRoutes } from './outbox.js'
import { pageRoutes } from './pages.js'
import { settingsRoutes } from './settings.js'
import { type RouteOptions, WikiHttpError } from './shared.js'

/**
 * Every route of one wiki. Registered twice: at `/` (tenant from the subdomain) and under
 * `/t/:tenant` (tenant from the path); `@tenantry/fastify` has already entered the tenant, so
 * the handlers just call the getters.
 */
export const wikiRoutes: FastifyPluginAsync<RouteOptions> = async (app, options) => {
  const admin = adminHome(options.services)
  app.addHook('onRequest', async (request, reply) => {
    if (options.pathForm) {
      // `acme.localhost/t/globex/`: two names for one request; serve neither.
      const named = (request.params as { tenant?: string }).tenant
      if (request.tenant !== named)
        throw new WikiHttpError(404, `This host serves wiki "${request.tenant}", not "${named}".`)
    } else if (request.tenant === undefined) {
      // The bare host: `/` is the admin, the wiki's other paths exist only inside a wiki.
      if (request.routeOptions.url === '/' && request.method === 'GET') return admin(request, reply)
      throw new WikiHttpError(404, 'No wiki here: open a wiki from the list at /.')
    }
  })
  // Not `options` itself: it carries the `prefix`, which would apply a second time.
  const inner: RouteOptions = { services: options.services, pathForm: options.pathForm }
  await app.register(pageRoutes, inner)
  await app.register(settingsRoutes, inner)
  await app.register(outboxRoutes, inner)
  await app.register(attachmentRoutes, inner)
  await app.register(liveRoutes, inner)
}
