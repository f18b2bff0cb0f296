// Live pages: a page open in several browsers reloads its content when someone saves it. The
// socket's tenant is the request's (resolved once at the upgrade, like any wiki route), and
// so is the channel: `page:welcome` of acme and of globex are two different channels.
import type { Realtime } from '@tenantry/realtime'
import type { FastifyPluginAsync } from 'fastify'
import type { RouteOptions } from './routes/shared.js'
import { html, raw, type SafeHtml } from './views/html.js'

/** The channel of one page (inside the current tenant). */
export const pageChannel = (slug: string): string => `page:${slug}`

/** What a save publishes: the client fetches the page again (no HTML in messages). */
export interface PageChange {
  slug: string
  revision: number
  title: string
}

/** Tells every open viewer of `slug` in the current tenant that it changed. */
export async function publishPageChange(live: Realtime, change: PageChange): Promise<void> {
  await live.publish(pageChannel(change.slug), change)
}

/** The WebSocket route `GET /pages/:slug/live` (in both route copies). */
export const liveRoutes: FastifyPluginAsync<RouteOptions> = async (app, { services }) => {
  services.live.websocket(app, '/pages/:slug/live', async (conn, request) => {
    const { slug } = request.params as { slug: string }
    await conn.subscribe(pageChannel(slug))
  })
}

// Counters on <body> (data-live, data-updates) let the browser test wait on state, not time.
const CLIENT = `(() => {
  const path = document.currentScript.dataset.live
  const body = document.body
  body.dataset.updates = '0'
  const open = () => {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path)
    ws.onopen = () => { body.dataset.live = 'open' }
    ws.onmessage = async (event) => {
      body.dataset.updates = String(Number(body.dataset.updates) + 1)
      const change = JSON.parse(event.data).data
      const res = await fetch(location.href, { headers: { accept: 'text/html' } })
      if (!res.ok) return
      const fresh = new DOMParser().parseFromString(await res.text(), 'text/html')
      document.querySelector('main').replaceWith(fresh.querySelector('main'))
      document.title = fresh.title
      body.dataset.revision = String(change.revision)
    }
    // 4410: the wiki was destroyed; anything else: try again shortly.
    ws.onclose = (event) => {
      body.dataset.live = 'closed'
      if (event.code !== 4410) setTimeout(open, 3000)
    }
  }
  open()
})()`

/** The script that keeps a page view live (placed once in the page). */
export function liveScript(pagePath: string): SafeHtml {
  return html`<script data-live="${pagePath}/live">${raw(CLIENT)}</script>`
}
