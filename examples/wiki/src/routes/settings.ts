import { isTenantryError } from '@tenantry/context'
import { updateSettings } from '@tenantry/settings'
import type { FastifyPluginAsync } from 'fastify'
import { wikiSettings } from '../resources.js'
import { settingsView } from '../views/settings.js'
import { field, type RouteOptions, sendHtml, viewOf } from './shared.js'

/** The settings page: reads and updates the tenant's own settings table. */
export const settingsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { pathForm }) => {
  app.get<{ Querystring: { saved?: string } }>('/settings', async (request, reply) =>
    sendHtml(
      reply,
      settingsView(viewOf(request, pathForm), wikiSettings(), {
        saved: request.query.saved !== undefined,
      }),
    ),
  )

  app.post('/settings', async (request, reply) => {
    const view = viewOf(request, pathForm)
    const patch = {
      title: field(request.body, 'title'),
      allowedTags: field(request.body, 'allowedTags')
        .toLowerCase()
        .split(/[\s,<>]+/)
        .filter((t) => t !== ''),
      notify: field(request.body, 'notify'),
    }
    try {
      // Stores the patch, then refreshes `settings` and its dependents (`renderer`, `mail`)
      // of this tenant only: its next request renders with the new values, no restart.
      await updateSettings(patch)
    } catch (error) {
      if (!isTenantryError(error, 'TENANTRY_SETTINGS_INVALID')) throw error
      const shown = { ...wikiSettings(), ...patch }
      return sendHtml(reply, settingsView(view, shown, { error: (error as Error).message }), 400)
    }
    return reply.redirect(`${view.base}/settings?saved=1`, 303)
  })
}
