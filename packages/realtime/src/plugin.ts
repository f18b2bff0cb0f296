import websocket, { type WebsocketPluginOptions } from '@fastify/websocket'
import { TenancyConfigError } from '@tenantry/context'
import type { FastifyPluginCallback } from 'fastify'
import fp from 'fastify-plugin'
import type { Realtime } from './hub.js'

/** Options of {@link realtimePlugin}. */
export interface RealtimePluginOptions {
  /** The hub whose connections this app serves. */
  hub: Realtime
  /** Options for `@fastify/websocket` (registered here unless the app registered it already). */
  websocket?: WebsocketPluginOptions | undefined
}

const plugin: FastifyPluginCallback<RealtimePluginOptions> = (fastify, options, next) => {
  if (!fastify.hasPlugin('@tenantry/fastify')) {
    next(
      new TenancyConfigError(
        "@tenantry/realtime needs @tenantry/fastify registered first: it resolves each connection's tenant at the upgrade, with the same rules as HTTP.",
      ),
    )
    return
  }
  const hub = options.hub
  if (!fastify.hasPlugin('@fastify/websocket')) fastify.register(websocket, options.websocket ?? {})
  // An upgrade refused by an earlier onRequest hook (@tenantry/fastify's 404/400) never reaches
  // @fastify/websocket's own onRequest hook, so nothing would end its socket: the HTTP answer
  // is written, and the half-open socket would then keep app.close() waiting forever.
  fastify.addHook('onResponse', (request, _reply, done) => {
    if (request.ws !== true && request.raw.headers.upgrade !== undefined)
      request.raw.socket?.destroy()
    done()
  })
  // Event streams never end on their own: without this, app.close() would wait for them.
  fastify.addHook('preClose', async () => {
    await hub.close()
  })
  next()
}

/**
 * The Fastify plugin of `@tenantry/realtime`: registers `@fastify/websocket` and closes the
 * hub's connections when the app closes. Register it after `@tenantry/fastify`.
 */
export const realtimePlugin = fp(plugin, {
  fastify: '5.x',
  name: '@tenantry/realtime',
})
