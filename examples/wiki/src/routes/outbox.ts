import type { FastifyPluginAsync } from 'fastify'
import { outboxView } from '../views/outbox.js'
import { type RouteOptions, sendHtml, viewOf } from './shared.js'

/** The outbox page: the mail this tenant's mailer sent, and only this tenant's. */
export const outboxRoutes: FastifyPluginAsync<RouteOptions> = async (
  app,
  { services, pathForm },
) => {
  app.get('/outbox', async (request, reply) => {
    const messages = services.outbox.messages(request.tenant!).reverse()
    return sendHtml(reply, outboxView(viewOf(request, pathForm), messages))
  })
}
