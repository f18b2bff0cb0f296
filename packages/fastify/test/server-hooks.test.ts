import { deferred } from '@tenantry/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { fromSubdomain } from '../src/index.js'
import { type Harness, makeApp, seen, startGet } from './helpers.js'

// The plugin has no onRequestAbort or onTimeout hook of its own: it wraps those added after it
// (instance, child plugin, route options), which then run in the tenant. A real socket is
// needed: fastify.inject has neither aborts nor timeouts.

let h: Harness
afterEach(async () => {
  await h?.app.close()
  await h?.tenancy.close()
})

describe('onRequestAbort and onTimeout hooks', () => {
  it('of route options and child plugins run in the tenant, async ones too', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    const events: string[] = []
    const inHandler = deferred()
    const bothRan = deferred()
    const finishHandler = deferred()
    const note = (what: string) => {
      events.push(`${what} sees ${seen(h.tenancy)}`)
      if (events.length === 2) bothRan.resolve()
    }
    await h.app.register(async (child) => {
      child.addHook('onRequestAbort', (_req, done) => {
        note('child hook')
        done()
      })
      child.get(
        '/slow',
        {
          onRequestAbort: async (_req) => {
            await Promise.resolve()
            note('route hook')
          },
        },
        async () => {
          inHandler.resolve()
          await finishHandler.promise
          return 'late'
        },
      )
    })
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { req, closed } = startGet(h.app, '/slow')
    await inHandler.promise
    req.destroy()
    await closed
    await bothRan.promise
    finishHandler.resolve()
    await h.tenancy.releaseTenant('acme', { timeoutMs: 2000 })
    expect(events).toEqual(['child hook sees acme', 'route hook sees acme'])
    expect(h.disposed).toEqual(['acme'])
  })

  it("a route's own onTimeout hook runs in the tenant", async () => {
    h = await makeApp(
      { resolve: fromSubdomain({ root: 'example.com' }) },
      { connectionTimeout: 200 },
    )
    const timedOut = deferred<string>()
    const finishHandler = deferred()
    h.app.get(
      '/hang',
      {
        onTimeout: (_req, _reply, done) => {
          timedOut.resolve(seen(h.tenancy))
          done()
        },
      },
      async () => {
        h.tenancy.getResource('probe')
        await finishHandler.promise
        return 'late'
      },
    )
    await h.app.listen({ host: '127.0.0.1', port: 0 })
    const { closed } = startGet(h.app, '/hang')
    expect(await timedOut.promise).toBe('acme')
    await closed
    finishHandler.resolve()
    await h.tenancy.releaseTenant('acme', { timeoutMs: 2000 })
    expect(h.disposed).toEqual(['acme'])
  })

  it('still refuses async hooks that take done, as Fastify does', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    // Async functions that also take done (the types refuse them too, hence the casts).
    const abort = async (_req: unknown, _done: unknown) => {}
    const timeout = async (_req: unknown, _reply: unknown, _done: unknown) => {}
    const refused = expect.objectContaining({ code: 'FST_ERR_HOOK_INVALID_ASYNC_HANDLER' })
    expect(() => h.app.addHook('onRequestAbort', abort as never)).toThrow(refused)
    expect(() => h.app.addHook('onTimeout', timeout as never)).toThrow(refused)
  })
})
