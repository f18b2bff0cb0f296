import { isTenantryError, TenantSwitchError } from '@tenantry/context'
import { deferred } from '@tenantry/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { firstOf, fromHeader, fromPath, fromSubdomain, tenantry } from '../src/index.js'
import { type Harness, makeApp, type Probe, seen } from './helpers.js'

let h: Harness
afterEach(async () => {
  await h?.app.close()
  await h?.tenancy.close()
})

const host = (name: string) => ({ host: `${name}.example.com` })

describe('resolution and status codes', () => {
  it('answers an unknown tenant with 404 in Fastify error shape', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    h.app.get('/', async () => 'hello')
    const res = await h.app.inject({ url: '/', headers: host('nosuch') })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({
      statusCode: 404,
      code: 'TENANTRY_UNKNOWN_TENANT',
      error: 'Not Found',
      message: expect.stringContaining('"nosuch"'),
    })
    expect(h.existsCalls).toEqual(['nosuch'])
    expect(h.created).toEqual([])
  })

  it('answers an invalid name with 400 before asking the tenant source', async () => {
    h = await makeApp({ resolve: fromHeader('x-tenant') })
    h.app.get('/', async () => 'hello')
    for (const bad of ['Acme', 'a_b', '..', 'x'.repeat(64)]) {
      const res = await h.app.inject({ url: '/', headers: { 'x-tenant': bad } })
      expect(res.statusCode, bad).toBe(400)
      expect(res.json()).toMatchObject({ statusCode: 400, code: 'TENANTRY_INVALID_TENANT_NAME' })
    }
    const path = await makeApp({ resolve: fromPath('/t/:tenant') })
    path.app.get('/t/:tenant/x', async () => 'x')
    const res = await path.app.inject({ url: '/t/a%2Fb/x' })
    expect(res.statusCode).toBe(400)
    await path.app.close()
    expect(h.existsCalls).toEqual([])
    expect(path.existsCalls).toEqual([])
    expect(h.created).toEqual([])
  })

  it('can answer an invalid name exactly like an unknown one', async () => {
    h = await makeApp({ resolve: fromHeader('x-tenant'), invalidNameStatus: 404 })
    h.app.get('/', async () => 'hello')
    const res = await h.app.inject({ url: '/', headers: { 'x-tenant': 'A_B' } })
    expect(res.statusCode).toBe(404)
    expect(res.json().code).toBe('TENANTRY_UNKNOWN_TENANT')
    expect(h.existsCalls).toEqual([])
  })

  it('passes other errors of the resolver or the tenant through (500)', async () => {
    h = await makeApp({
      resolve: (req) => {
        if (req.url === '/throw') throw new Error('resolver broke')
        return Promise.reject(new Error('lookup broke'))
      },
    })
    h.app.get('/*', async () => 'x')
    expect((await h.app.inject('/throw')).json().message).toBe('resolver broke')
    const res = await h.app.inject('/async')
    expect(res.statusCode).toBe(500)
    expect(res.json().message).toBe('lookup broke')
  })

  it('supports async custom resolvers', async () => {
    h = await makeApp({ resolve: async (req) => (req.headers['x-t'] as string) || undefined })
    h.app.get('/', async (req) => ({ tenant: req.tenant, seen: seen(h.tenancy) }))
    const res = await h.app.inject({ url: '/', headers: { 'x-t': 'globex' } })
    expect(res.json()).toEqual({ tenant: 'globex', seen: 'globex' })
  })

  it('serves path tenants on routes registered under the prefix', async () => {
    h = await makeApp({
      resolve: firstOf(fromSubdomain({ root: 'example.com' }), fromPath('/t/:tenant')),
    })
    await h.app.register(
      async (scoped) => {
        scoped.get('/pages', async (req) => ({
          tenant: req.tenant,
          param: (req.params as { tenant: string }).tenant,
          seen: seen(h.tenancy),
        }))
      },
      { prefix: '/t/:tenant' },
    )
    h.app.get('/pages', async (req) => ({ tenant: req.tenant, seen: seen(h.tenancy) }))
    const byPath = await h.app.inject({ url: '/t/acme/pages', headers: { host: 'localhost' } })
    expect(byPath.json()).toEqual({ tenant: 'acme', param: 'acme', seen: 'acme' })
    const bySub = await h.app.inject({ url: '/pages', headers: host('initech') })
    expect(bySub.json()).toEqual({ tenant: 'initech', seen: 'initech' })
  })
})

describe('untenanted requests', () => {
  it('runs outside any tenant when nothing resolves', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    h.app.get('/', async (req) => ({ tenant: req.tenant ?? null, seen: seen(h.tenancy) }))
    const res = await h.app.inject({ url: '/', headers: { host: 'example.com' } })
    expect(res.json()).toEqual({ tenant: null, seen: 'none' })
    expect(h.existsCalls).toEqual([])
  })

  it('skips resolution on routes with config.tenant = false', async () => {
    let calls = 0
    h = await makeApp({
      resolve: () => {
        calls++
        return 'nosuch' // would 404
      },
    })
    h.app.get('/health', { config: { tenant: false } }, async (req) => ({
      tenant: req.tenant ?? null,
      seen: seen(h.tenancy),
    }))
    const res = await h.app.inject('/health')
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ tenant: null, seen: 'none' })
    expect(calls).toBe(0)
  })
})

describe('inside a request', () => {
  it('refuses to switch to another tenant', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    let caught: unknown
    h.app.get('/', async () => {
      try {
        await h.tenancy.withTenant('globex', () => 'leak')
      } catch (error) {
        caught = error
      }
      const same = await h.tenancy.withTenant('acme', () => seen(h.tenancy))
      return { same }
    })
    const res = await h.app.inject({ url: '/', headers: host('acme') })
    expect(res.json()).toEqual({ same: 'acme' })
    expect(caught).toBeInstanceOf(TenantSwitchError)
    expect(isTenantryError(caught, 'TENANTRY_TENANT_SWITCH')).toBe(true)
  })

  it('runs your error handler inside the tenant, also for body-parser errors', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    const seenBy: string[] = []
    h.app.setErrorHandler((error, _request, reply) => {
      seenBy.push(seen(h.tenancy))
      reply.status(418).send({ custom: (error as Error).message.slice(0, 20) })
    })
    h.app.post('/json', async () => {
      throw new Error('handler failed')
    })
    const thrown = await h.app.inject({
      method: 'POST',
      url: '/json',
      headers: host('acme'),
      payload: {},
    })
    expect(thrown.statusCode).toBe(418)
    const malformed = await h.app.inject({
      method: 'POST',
      url: '/json',
      headers: { ...host('acme'), 'content-type': 'application/json' },
      payload: '{"a":',
    })
    expect(malformed.statusCode).toBe(418)
    expect(seenBy).toEqual(['acme', 'acme'])
  })

  it('sends the tenant header only when asked', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    h.app.get('/', async () => 'x')
    expect((await h.app.inject({ url: '/', headers: host('acme') })).headers['x-tenant']).toBe(
      undefined,
    )
    const other = await makeApp({
      resolve: fromSubdomain({ root: 'example.com' }),
      replyHeader: 'x-debug-tenant',
    })
    other.app.get('/', async () => 'x')
    const res = await other.app.inject({ url: '/', headers: host('acme') })
    expect(res.headers['x-debug-tenant']).toBe('acme')
    await other.app.close()
  })

  it('needs a resolve option', async () => {
    const Fastify = (await import('fastify')).default
    const app = Fastify()
    await expect(app.register(tenantry, {} as never)).rejects.toThrow(/resolve/)
  })
})

describe('the tenant scope', () => {
  it('is held through async onResponse hooks and released after them', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    const events: string[] = []
    const hookStarted = deferred()
    const letHookFinish = deferred()
    h.app.addHook('onResponse', async () => {
      hookStarted.resolve()
      await letHookFinish.promise
      events.push(`hook sees ${seen(h.tenancy)}`)
    })
    h.app.get('/', async () => (h.tenancy.getResource('probe') as Probe).tenant)
    const res = await h.app.inject({ url: '/', headers: host('acme') })
    expect(res.body).toBe('acme')
    await hookStarted.promise
    const released = h.tenancy.releaseTenant('acme').then(() => {
      events.push(`released (disposed: ${h.disposed.join(',')})`)
    })
    events.push('hook may finish')
    letHookFinish.resolve()
    await released
    expect(events).toEqual(['hook may finish', 'hook sees acme', 'released (disposed: acme)'])
  })

  it('never mixes tenants under concurrent, interleaved requests', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `t${i}`)
    h = await makeApp({ resolve: fromHeader('x-tenant') }, {}, names)
    // Each request waits for a gate that is opened in reverse order of arrival, so later
    // requests finish first while earlier ones are still inside their tenants.
    const gates: Array<() => void> = []
    const arrived = deferred()
    const TOTAL = 200
    h.app.post('/work', async (req) => {
      const before = seen(h.tenancy)
      await new Promise<void>((r) => {
        gates.push(r)
        if (gates.length === TOTAL) arrived.resolve()
      })
      await Promise.resolve()
      const after = seen(h.tenancy)
      const probe = h.tenancy.getResource('probe') as Probe
      return { header: req.tenant, before, after, probe: probe.tenant, body: req.body }
    })
    const order = Array.from({ length: TOTAL }, (_, i) => names[(i * 7) % names.length]!)
    const responses = order.map((tenant, i) =>
      h.app.inject({
        method: 'POST',
        url: '/work',
        headers: { 'x-tenant': tenant },
        payload: { i, tenant },
      }),
    )
    await arrived.promise
    // Open the gates in a shuffled order (deterministic), latest arrivals mostly first.
    const shuffled = gates.map((g, i) => [g, (i * 7919) % TOTAL] as const)
    shuffled.sort((a, b) => b[1] - a[1])
    for (const [g] of shuffled) g()
    const bodies = (await Promise.all(responses)).map((r) => r.json())
    bodies.forEach((b, i) => {
      const t = order[i]
      expect(b).toEqual({ header: t, before: t, after: t, probe: t, body: { i, tenant: t } })
    })
    expect(new Set(h.created)).toEqual(new Set(names))
    await Promise.all(names.map((n) => h.tenancy.releaseTenant(n)))
    expect(h.disposed.sort()).toEqual([...names].sort())
  })
})
