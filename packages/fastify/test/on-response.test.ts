import { deferred } from '@tenantry/test-utils'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { fromSubdomain } from '../src/index.js'
import { type Harness, makeApp, type Probe, seen } from './helpers.js'

// The plugin adds no onResponse hook of its own: it wraps those added after it (instance,
// child plugin, route options), which then run in the tenant and hold the scope until the
// last of them ends; without any, the response's close releases it.

let h: Harness
afterEach(async () => {
  await h?.app.close()
  await h?.tenancy.close()
})

const acme = { host: 'acme.example.com' }
const probeRoute = (app: FastifyInstance, url = '/', extra: object = {}) =>
  app.get(url, extra, async () => (h.tenancy.getResource('probe') as Probe).tenant)

/** Resolves once acme's probe is disposed: the request's scope was released. */
const releasedAfter = (events: string[]) =>
  h.tenancy.releaseTenant('acme').then(() => {
    events.push(`released (disposed ${h.disposed.join(',')})`)
  })

describe('onResponse hooks', () => {
  it('release the scope with the response when a route has none', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    probeRoute(h.app)
    const res = await h.app.inject({ url: '/', headers: acme })
    expect(res.body).toBe('acme')
    const events: string[] = []
    await releasedAfter(events)
    expect(events).toEqual(['released (disposed acme)'])
  })

  it('of route options and child plugins run in the tenant and hold the scope', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    const events: string[] = []
    const started = deferred()
    const finish = deferred()
    await h.app.register(async (child) => {
      child.addHook('onResponse', (_req, _reply, done) => {
        events.push(`child hook sees ${seen(h.tenancy)}`)
        done()
      })
      probeRoute(child, '/', {
        onResponse: async () => {
          started.resolve()
          await finish.promise
          events.push(`route hook sees ${seen(h.tenancy)}`)
        },
      })
    })
    await h.app.inject({ url: '/', headers: acme })
    await started.promise
    const released = releasedAfter(events)
    events.push('route hook may finish')
    finish.resolve()
    await released
    expect(events).toEqual([
      'child hook sees acme',
      'route hook may finish',
      'route hook sees acme',
      'released (disposed acme)',
    ])
  })

  it('release the scope when one of them fails (the chain stops there)', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    const events: string[] = []
    h.app.addHook('onResponse', async () => {
      await Promise.resolve()
      events.push(`failing hook sees ${seen(h.tenancy)}`)
      throw new Error('onResponse failed')
    })
    h.app.addHook('onResponse', (_req, _reply, done) => {
      events.push('never runs')
      done()
    })
    probeRoute(h.app)
    expect((await h.app.inject({ url: '/', headers: acme })).body).toBe('acme')
    await releasedAfter(events) // without the grace timer (10 s): the failure ends the chain
    expect(events).toEqual(['failing hook sees acme', 'released (disposed acme)'])
  })

  it('still refuses an async hook that takes done, as Fastify does', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    // An async function that also takes done (the types refuse it too, hence the cast).
    const invalid = async (_req: unknown, _reply: unknown, _done: unknown) => {}
    expect(() => h.app.addHook('onResponse', invalid as never)).toThrow(
      expect.objectContaining({ code: 'FST_ERR_HOOK_INVALID_ASYNC_HANDLER' }),
    )
  })
})
