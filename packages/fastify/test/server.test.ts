import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { deferred } from '@tenantry/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { fromSubdomain } from '../src/index.js'
import { type Harness, makeApp, type Probe, seen, startGet } from './helpers.js'

// Client aborts and socket timeouts need a real socket: fastify.inject has neither.

let h: Harness
afterEach(async () => {
  await h?.app.close()
  await h?.tenancy.close()
})

describe('a real server', () => {
  it('keeps the scope through a client abort until the handler settles', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    const events: string[] = []
    const inHandler = deferred()
    const aborted = deferred()
    const finishHandler = deferred()
    h.app.addHook('onRequestAbort', (_req, done) => {
      events.push(`onRequestAbort sees ${seen(h.tenancy)}`)
      aborted.resolve()
      done()
    })
    h.app.get('/slow', async () => {
      const probe = h.tenancy.getResource('probe') as Probe
      inHandler.resolve()
      await finishHandler.promise
      events.push(`handler after abort sees ${seen(h.tenancy)} (${probe.tenant})`)
      return 'late'
    })
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { req, closed } = startGet(h.app, '/slow')
    await inHandler.promise
    req.destroy()
    await closed
    await aborted.promise
    const released = h.tenancy.releaseTenant('acme').then(() => {
      events.push(`released, disposed ${h.disposed.join(',')}`)
    })
    events.push('handler may finish')
    finishHandler.resolve()
    await released
    expect(events).toEqual([
      'onRequestAbort sees acme',
      'handler may finish',
      'handler after abort sees acme (acme)',
      'released, disposed acme',
    ])
  })

  it('releases the scope when the client leaves after its body was read (no onRequestAbort)', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    const inHandler = deferred()
    const finishHandler = deferred()
    const seenInHandler: string[] = []
    h.app.post('/slow', async (request) => {
      seenInHandler.push(seen(h.tenancy))
      inHandler.resolve()
      await finishHandler.promise
      seenInHandler.push(seen(h.tenancy))
      return request.body
    })
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = h.app.server.address() as AddressInfo
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/slow',
      headers: { host: `acme.example.com:${port}`, 'content-type': 'application/json' },
    })
    const closed = new Promise<void>((resolve) => req.on('close', () => resolve()))
    req.on('error', () => {})
    req.end(JSON.stringify({ a: 'x'.repeat(10_000) }))
    await inHandler.promise
    req.destroy()
    await closed
    const released = h.tenancy.releaseTenant('acme', { timeoutMs: 5000 })
    finishHandler.resolve()
    await released
    expect(seenInHandler).toEqual(['acme', 'acme'])
    expect(h.disposed).toEqual(['acme'])
  })

  it('releases the scope when the client left while an async resolver was still running', async () => {
    const resolving = deferred()
    const answer = deferred()
    const subdomain = fromSubdomain({ root: 'example.com' })
    h = await makeApp({
      resolve: async (request) => {
        resolving.resolve()
        await answer.promise
        return subdomain(request)
      },
    })
    const aborted = deferred()
    const handled = deferred()
    h.app.addHook('onRequestAbort', (_req, done) => {
      aborted.resolve() // the response's 'close' came before this (same socket event)
      done()
    })
    h.app.get('/', async () => {
      h.tenancy.getResource('probe')
      handled.resolve()
      return 'late'
    })
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { req, closed } = startGet(h.app, '/')
    await resolving.promise
    req.destroy()
    await closed
    await aborted.promise
    answer.resolve() // the tenant is entered only now, after the response has closed
    await handled.promise
    await h.tenancy.releaseTenant('acme', { timeoutMs: 2000 })
    expect(h.disposed).toEqual(['acme'])
  })

  it('runs onTimeout inside the tenant and releases the scope afterwards', async () => {
    h = await makeApp(
      { resolve: fromSubdomain({ root: 'example.com' }) },
      { connectionTimeout: 200 },
    )
    const timedOut = deferred<string>()
    const finishHandler = deferred()
    h.app.addHook('onTimeout', (_req, _reply, done) => {
      timedOut.resolve(seen(h.tenancy))
      done()
    })
    h.app.get('/hang', async () => {
      h.tenancy.getResource('probe')
      await finishHandler.promise
      return 'late'
    })
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { closed } = startGet(h.app, '/hang')
    expect(await timedOut.promise).toBe('acme')
    await closed // the server drops the connection after the timeout
    finishHandler.resolve()
    await h.tenancy.releaseTenant('acme')
    expect(h.disposed).toEqual(['acme'])
  })
})
