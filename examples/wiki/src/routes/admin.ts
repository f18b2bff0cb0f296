import { isTenantryError, tenancy } from '@tenantry/context'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { adminView, type WikiLink } from '../views/admin.js'
import { field, type RouteOptions, sendHtml, WikiHttpError, type WikiServices } from './shared.js'

// Names a resolver would never route to a wiki.
const RESERVED = new Set(['www'])

async function renderAdmin(
  services: WikiServices,
  request: FastifyRequest,
  reply: FastifyReply,
  error?: string,
  status = 200,
): Promise<FastifyReply> {
  const names = await services.store.list()
  const onRoot = request.hostname === services.root
  const port = request.port === undefined || request.port === null ? '' : `:${request.port}`
  const wikis: WikiLink[] = names.map((name) => ({
    name,
    subdomainUrl: onRoot ? `${request.protocol}://${name}.${services.root}${port}/` : undefined,
    pathUrl: `/t/${name}/`,
  }))
  return sendHtml(reply, adminView(wikis, services.store.kind, error), status)
}

/** The admin page itself: `GET /` on the bare host (the wiki's `/` hands over to it). */
export function adminHome(services: WikiServices) {
  return (request: FastifyRequest, reply: FastifyReply) => renderAdmin(services, request, reply)
}

/**
 * Creating and destroying wikis, on the bare host only (no tenant resolved): the admin acts
 * on tenants from outside them. No authentication: it is a demo on 127.0.0.1.
 */
export const adminRoutes: FastifyPluginAsync<RouteOptions> = async (app, { services }) => {
  app.addHook('onRequest', async (request) => {
    if (request.tenant !== undefined)
      throw new WikiHttpError(404, 'The admin is not part of a wiki.')
  })

  app.post('/admin/wikis', async (request, reply) => {
    const name = field(request.body, 'name').toLowerCase()
    try {
      tenancy.validateName(name)
      if (RESERVED.has(name)) throw new WikiHttpError(400, `"${name}" is reserved.`)
    } catch (error) {
      const message = isTenantryError(error) ? error.message : String(error)
      return renderAdmin(services, request, reply, `Cannot create "${name}": ${message}`, 400)
    }
    if (await services.store.exists(name))
      return renderAdmin(services, request, reply, `A wiki named "${name}" exists already.`, 409)
    await services.createWiki(name)
    return reply.redirect('/', 303)
  })

  app.post<{ Params: { name: string } }>('/admin/wikis/:name/destroy', async (request, reply) => {
    const { name } = request.params
    let exists: boolean
    try {
      exists = await services.store.exists(name)
    } catch (error) {
      if (isTenantryError(error, 'TENANTRY_INVALID_TENANT_NAME'))
        throw new WikiHttpError(400, (error as Error).message)
      throw error
    }
    if (!exists) throw new WikiHttpError(404, `There is no wiki "${name}".`)
    await services.destroyWiki(name)
    return reply.redirect('/', 303)
  })
}
