import { isTenantryError } from '@tenantry/context'
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { firstOf, fromHeader, fromPath, fromSubdomain, type TenantResolver } from '../src/index.js'

// Runs a resolver on a real Fastify request (so request.hostname has Fastify 5's semantics).
async function resolveWith(
  resolver: TenantResolver,
  inject: { url?: string; headers?: Record<string, string> },
  trustProxy = false,
): Promise<string | undefined> {
  const app = Fastify({ trustProxy })
  let result: string | undefined | null = null
  app.get('/*', async (request: FastifyRequest) => {
    result = await resolver(request)
    return 'ok'
  })
  await app.inject({
    method: 'GET',
    url: inject.url ?? '/',
    ...(inject.headers === undefined ? {} : { headers: inject.headers }),
  })
  await app.close()
  if (result === null) throw new Error('handler did not run')
  return result
}

describe('fromSubdomain', () => {
  const r = fromSubdomain({ root: 'example.com' })

  it('reads the label in front of the root, without the port', async () => {
    expect(await resolveWith(r, { headers: { host: 'acme.example.com' } })).toBe('acme')
    expect(await resolveWith(r, { headers: { host: 'acme.example.com:3000' } })).toBe('acme')
    expect(await resolveWith(r, { headers: { host: 'ACME.Example.COM.' } })).toBe('acme')
  })

  it('is untenanted on the bare root, www, other hosts and IP literals', async () => {
    for (const host of ['example.com', 'www.example.com', 'other.org', 'notexample.com']) {
      expect(await resolveWith(r, { headers: { host } }), host).toBeUndefined()
    }
    expect(await resolveWith(r, { headers: { host: '127.0.0.1:8080' } })).toBeUndefined()
    expect(await resolveWith(r, { headers: { host: '[::1]:8080' } })).toBeUndefined()
  })

  it('takes all leading labels by default, or the nearest one', async () => {
    const host = { host: 'api.acme.example.com' }
    expect(await resolveWith(r, { headers: host })).toBe('api.acme')
    const nearest = fromSubdomain({ root: 'example.com', multiLevel: 'nearest' })
    expect(await resolveWith(nearest, { headers: host })).toBe('acme')
  })

  it('accepts several roots', async () => {
    const both = fromSubdomain({ root: ['example.com', 'localhost'] })
    expect(await resolveWith(both, { headers: { host: 'acme.localhost:3000' } })).toBe('acme')
    expect(await resolveWith(both, { headers: { host: 'globex.example.com' } })).toBe('globex')
  })

  it('reads X-Forwarded-Host only when trustProxy is on', async () => {
    const headers = { host: 'internal.lan', 'x-forwarded-host': 'acme.example.com' }
    expect(await resolveWith(r, { headers }, false)).toBeUndefined()
    expect(await resolveWith(r, { headers }, true)).toBe('acme')
    const spoof = { host: 'acme.example.com', 'x-forwarded-host': 'globex.example.com' }
    expect(await resolveWith(r, { headers: spoof }, false)).toBe('acme')
  })

  it('refuses a root that is not a domain, with a TenantryError', () => {
    expect(() => fromSubdomain({ root: '.' })).toThrow(/root/)
    expect(() => fromSubdomain({ root: [] })).toThrow(/root/)
    expect(configCode(() => fromSubdomain({ root: '.' }))).toBe('TENANTRY_CONFIG')
  })

  it('never takes a root for a tenant, and the longest matching root wins', async () => {
    for (const root of [
      ['site.com', 'blog.site.com'],
      ['blog.site.com', 'site.com'],
    ]) {
      const nested = fromSubdomain({ root })
      const at = (host: string) => resolveWith(nested, { headers: { host } })
      expect(await at('blog.site.com'), String(root)).toBeUndefined()
      expect(await at('site.com'), String(root)).toBeUndefined()
      expect(await at('x.blog.site.com'), String(root)).toBe('x')
      expect(await at('acme.site.com'), String(root)).toBe('acme')
    }
  })
  it('answers a host seen before as the first time, past thousands of distinct hosts', () => {
    // The resolver remembers hosts (bounded): a wrong memo would answer from another host.
    const memo = fromSubdomain({ root: 'example.com', ignore: ['www', 'api'] })
    const at = (host: string) => memo({ host } as FastifyRequest)
    const long = `${'a'.repeat(300)}.example.com`
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) {
        expect(at(`t${i}.example.com:${3000 + (i % 3)}`)).toBe(`t${i}`)
        if (i % 500 === 0) {
          expect(at('ACME.Example.com')).toBe('acme')
          expect(at('acme.example.com')).toBe('acme')
          expect(at('www.example.com')).toBeUndefined()
          expect(at('api.example.com')).toBeUndefined()
          expect(at('example.com')).toBeUndefined()
          expect(at('acme.other.org')).toBeUndefined()
          expect(at(long)).toBe('a'.repeat(300))
        }
      }
    }
  })
})

describe('fromPath', () => {
  const r = fromPath('/t/:tenant')

  it('reads the segment and ignores other paths', async () => {
    expect(await resolveWith(r, { url: '/t/acme/pages/1' })).toBe('acme')
    expect(await resolveWith(r, { url: '/t/acme' })).toBe('acme')
    expect(await resolveWith(r, { url: '/t/acme?x=1' })).toBe('acme')
    expect(await resolveWith(r, { url: '/t/' })).toBeUndefined()
    expect(await resolveWith(r, { url: '/tx/acme' })).toBeUndefined()
    expect(await resolveWith(r, { url: '/health' })).toBeUndefined()
  })

  it('decodes percent-escapes (the naming rule then judges the result)', async () => {
    expect(await resolveWith(r, { url: '/t/ac%6De/x' })).toBe('acme')
    expect(await resolveWith(r, { url: '/t/a%2Fb/x' })).toBe('a/b')
    // Fastify's router refuses malformed escapes itself; the resolver must not throw on them.
    expect(r({ url: '/t/%E0%A4%A/x' } as FastifyRequest)).toBe('%E0%A4%A')
  })

  it('supports text after the parameter', async () => {
    const w = fromPath('/wikis/:tenant/api')
    expect(await resolveWith(w, { url: '/wikis/acme/api/pages' })).toBe('acme')
    expect(await resolveWith(w, { url: '/wikis/acme/other' })).toBeUndefined()
  })

  it('takes any parameter name', async () => {
    expect(await resolveWith(fromPath('/:team'), { url: '/acme/pages' })).toBe('acme')
    expect(await resolveWith(fromPath('/:team'), { url: '/' })).toBeUndefined()
    const org = fromPath('/orgs/:org_id/api')
    expect(await resolveWith(org, { url: '/orgs/globex/api/x' })).toBe('globex')
    expect(await resolveWith(org, { url: '/orgs/globex/web' })).toBeUndefined()
  })

  it('refuses patterns without one whole parameter segment, with a TenantryError', () => {
    expect(() => fromPath('/t/')).toThrow(/:tenant/)
    expect(() => fromPath('t/:tenant')).toThrow(/start with/)
    expect(() => fromPath('/t/:tenant-x')).toThrow(/whole path segment/)
    expect(() => fromPath('/t/x:tenant')).toThrow(/whole path segment/)
    expect(() => fromPath('/:a/:b')).toThrow(/one parameter/)
    expect(configCode(() => fromPath('/t/'))).toBe('TENANTRY_CONFIG')
  })
})

describe('fromHeader and firstOf', () => {
  it('reads a header, empty means none', async () => {
    const r = fromHeader('X-Tenant')
    expect(await resolveWith(r, { headers: { 'x-tenant': 'acme' } })).toBe('acme')
    expect(await resolveWith(r, { headers: { 'x-tenant': '' } })).toBeUndefined()
    expect(await resolveWith(r, {})).toBeUndefined()
  })

  it('returns the first result, synchronously when it can', async () => {
    const calls: string[] = []
    const a: TenantResolver = () => {
      calls.push('a')
      return undefined
    }
    const b: TenantResolver = async () => {
      calls.push('b')
      return undefined
    }
    const c: TenantResolver = () => {
      calls.push('c')
      return 'acme'
    }
    const d: TenantResolver = () => {
      calls.push('d')
      return 'never'
    }
    const fake = {} as FastifyRequest
    expect(firstOf(a, c, d)(fake)).toBe('acme') // no promise
    expect(await firstOf(a, b, c, d)(fake)).toBe('acme')
    expect(calls).toEqual(['a', 'c', 'a', 'b', 'c'])
    expect(firstOf(a)(fake)).toBeUndefined()
    expect(await firstOf(b)(fake)).toBeUndefined()
  })
})

function configCode(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return isTenantryError(error) ? error.code : 'not a TenantryError'
  }
  return undefined
}
