import { afterEach, beforeEach, expect, test } from 'vitest'
import { WebSocket } from 'ws'
import type { WikiApp } from '../src/app.js'
import { form, startWiki } from './helpers.js'

let app: WikiApp
let stop: () => Promise<void>
let base: string
beforeEach(async () => {
  ;({ app, stop } = await startWiki())
  await app.listen({ host: '127.0.0.1', port: 0 })
  base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}`
})
afterEach(() => stop())

function open(path: string) {
  const socket = new WebSocket(`${base}${path}`)
  const messages: unknown[] = []
  socket.on('message', (m) => messages.push(JSON.parse(String(m))))
  const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)))
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('unexpected-response', (req, res) => {
      req.destroy()
      reject(new Error(`HTTP ${res.statusCode}`))
    })
  })
  return { socket, messages, closed, opened }
}

test('saving a page tells its open viewers in that wiki and no other', async () => {
  const acme = open('/t/acme/pages/welcome/live')
  const globex = open('/t/globex/pages/welcome/live')
  await Promise.all([acme.opened, globex.opened])
  const res = await app.inject({
    method: 'POST',
    url: '/t/acme/pages/welcome',
    ...form({ title: 'Welcome', body: 'changed', revision: '1' }),
  })
  expect(res.statusCode).toBe(303)
  const deadline = Date.now() + 15_000
  while (acme.messages.length === 0 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 10))
  expect(acme.messages).toEqual([
    { channel: 'page:welcome', data: { slug: 'welcome', revision: 2, title: 'Welcome' } },
  ])
  expect(globex.messages).toEqual([])
  globex.socket.close()
  acme.socket.close()
})

test('an unknown wiki’s live socket is refused with 404; destroying a wiki closes its sockets', async () => {
  await expect(open('/t/nowhere/pages/welcome/live').opened).rejects.toThrow('HTTP 404')
  const acme = open('/t/acme/pages/welcome/live')
  const globex = open('/t/globex/pages/welcome/live')
  await Promise.all([acme.opened, globex.opened])
  await app.wiki.destroyWiki('acme')
  expect(await acme.closed).toBe(4410)
  expect(globex.socket.readyState).toBe(WebSocket.OPEN)
  globex.socket.close()
})
