import { isTenantryError } from '@tenantry/context'
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { fromHeader, fromSubdomain, tenantry } from '../src/index.js'
import { type Harness, makeApp, type Probe, seen } from './helpers.js'

// Issue 17: routes that need a tenant answer like an unknown tenant when none is named, and an
// untenanted request runs outside any tenant whatever context inject() was called from.

let h: Harness
afterEach(async () => {
  await h?.app.close()
  await h?.tenancy.close()
})

const needsProbe = (h: Harness) => async () => ({
  probe: (h.tenancy.getResource('probe') as Probe).tenant,
})

describe('routes that require a tenant', () => {
  it("answer 404 TENANTRY_UNKNOWN_TENANT without a tenant (config: { tenant: 'required' })", async () => {
    h = await makeApp({ resolve: fromHeader('x-tenant') })
    h.app.get('/pages', { config: { tenant: 'required' } }, needsProbe(h))
    h.app.get('/open', async () => ({ seen: seen(h.tenancy) }))
    const res = await h.app.inject('/pages')
    expect(res.statusCode).toBe(404)
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'TENANTRY_UNKNOWN_TENANT' })
    expect(res.json().message).toMatch(/\/pages needs a tenant/)
    const unknown = await h.app.inject({ url: '/pages', headers: { 'x-tenant': 'nosuch' } })
    expect(unknown.json().code).toBe(res.json().code) // one code for "no such tenant" and "none"
    const ok = await h.app.inject({ url: '/pages', headers: { 'x-tenant': 'acme' } })
    expect(ok.json()).toEqual({ probe: 'acme' })
    expect((await h.app.inject('/open')).json()).toEqual({ seen: 'none' })
    expect(h.created).toEqual(['acme'])
  })

  it('can be every route (requireTenant), with opt-outs and 400 like an invalid name', async () => {
    h = await makeApp({
      resolve: fromHeader('x-tenant'),
      requireTenant: true,
      missingTenantStatus: 400,
    })
    h.app.get('/pages', needsProbe(h))
    h.app.get('/maybe', { config: { tenant: 'optional' } }, async () => ({ seen: seen(h.tenancy) }))
    h.app.get('/health', { config: { tenant: false } }, async () => 'ok')
    const res = await h.app.inject('/pages?x=1')
    expect(res.statusCode).toBe(400)
    expect(res.json().code).toBe('TENANTRY_INVALID_TENANT_NAME')
    expect(res.json().message).toMatch(/^\/pages needs a tenant/)
    expect((await h.app.inject('/maybe')).json()).toEqual({ seen: 'none' })
    expect((await h.app.inject('/health')).body).toBe('ok')
    const ok = await h.app.inject({ url: '/pages', headers: { 'x-tenant': 'globex' } })
    expect(ok.json()).toEqual({ probe: 'globex' })
  })

  it('refuses to start without a resolve option, with a TenantryError', async () => {
    const app = Fastify()
    const error = await app.register(tenantry, {} as never).then(
      () => null,
      (e: unknown) => e,
    )
    expect(isTenantryError(error, 'TENANTRY_CONFIG')).toBe(true)
  })
})

describe('untenanted requests made from inside a tenant', () => {
  it('run outside any tenant, free to enter one, keeping overrides made outside tenants', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    h.app.get('/landing', async () => ({
      seen: seen(h.tenancy),
      flag: h.tenancy.getResource('flag'),
      entered: await h.tenancy.withTenant('globex', () => seen(h.tenancy)),
    }))
    h.app.post('/form', async (request) => ({ seen: seen(h.tenancy), body: request.body }))
    h.tenancy.defineResource('flag', { fallback: () => 'fallback' })
    const inside = await h.tenancy.withOverrides({ flag: 'mocked' }, () =>
      h.tenancy.withTenant('acme', async () => {
        const get = await h.app.inject({ url: '/landing', headers: { host: 'example.com' } })
        const post = await h.app.inject({
          method: 'POST',
          url: '/form',
          headers: { host: 'example.com' },
          payload: { a: 1 },
        })
        return [get.json(), post.json(), seen(h.tenancy)]
      }),
    )
    expect(inside).toEqual([
      { seen: 'none', flag: 'mocked', entered: 'globex' },
      { seen: 'none', body: { a: 1 } },
      'acme',
    ])
  })

  it('and a tenanted one from inside another tenant runs in its own tenant', async () => {
    h = await makeApp({ resolve: fromSubdomain({ root: 'example.com' }) })
    h.app.post('/form', async (request) => ({ seen: seen(h.tenancy), body: request.body }))
    const res = await h.tenancy.withTenant('acme', () =>
      h.app.inject({
        method: 'POST',
        url: '/form',
        headers: { host: 'globex.example.com' },
        payload: { b: 2 },
      }),
    )
    expect(res.json()).toEqual({ seen: 'globex', body: { b: 2 } })
  })
})
