// Tenant-qualified references: made in one tenant, resolvable only there.
import {
  createTenancy,
  parseTenantRef,
  resolveTenantRef,
  tenantRef,
  WrongTenantError,
  withTenant,
} from '@tenantry/context'
import { describe, expect, it } from 'vitest'

describe('tenantRef', () => {
  it('carries the tenant, the type and the id; resolves in its own tenant', async () => {
    const ref = await withTenant('acme', () => tenantRef('page', 42))
    expect(ref).toBe('tref:acme:page:42')
    expect(parseTenantRef(ref)).toEqual({ tenant: 'acme', type: 'page', id: '42' })
    expect(await withTenant('acme', () => resolveTenantRef(ref, 'page'))).toBe('42')
  })

  it('resolving a reference in another tenant throws WrongTenantError (404), outside any NoTenantError', async () => {
    const ref = tenantRef('page', 42, 'acme')
    const error = await withTenant('globex', () => {
      try {
        resolveTenantRef(ref, 'page')
      } catch (e) {
        return e
      }
    })
    expect(error).toBeInstanceOf(WrongTenantError)
    expect(error).toMatchObject({
      code: 'TENANTRY_WRONG_TENANT',
      tenant: 'acme',
      currentTenant: 'globex',
      statusCode: 404,
    })
    expect(() => resolveTenantRef(ref)).toThrow(
      expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }),
    )
  })

  it('is injective and URL-safe whatever the parts contain', () => {
    const a = tenantRef('b:c', 'd', 'a')
    const b = tenantRef('c', 'd', 'a:b')
    expect(a).not.toBe(b)
    for (const [type, id, tenant] of [
      ['b:c', 'd', 'a'],
      ['c', 'd', 'a:b'],
      ['page', 'x/y?z#%', 'acme'],
      ['page', 12345678901234567890n, 'acme'],
    ] as const) {
      const ref = tenantRef(type, id, tenant)
      expect(ref).toMatch(
        /^tref:[A-Za-z0-9\-_.!~*'()%]+:[A-Za-z0-9\-_.!~*'()%]+:[A-Za-z0-9\-_.!~*'()%]+$/,
      )
      expect(parseTenantRef(ref)).toEqual({ tenant, type, id: String(id) })
    }
  })

  it('refuses malformed references and a type other than expected (400)', async () => {
    for (const bad of [
      '',
      'page:42',
      'tref:acme:page',
      'tref:acme::42',
      'tref:a:b:c:d',
      'tref:%E0%A4%A:p:1',
    ])
      expect(() => parseTenantRef(bad)).toThrow(
        expect.objectContaining({ code: 'TENANTRY_INVALID_REF' }),
      )
    const ref = tenantRef('user', 7, 'acme')
    await withTenant('acme', () =>
      expect(() => resolveTenantRef(ref, 'page')).toThrow(
        expect.objectContaining({ code: 'TENANTRY_INVALID_REF', statusCode: 400 }),
      ),
    )
    expect(() => tenantRef('', 1, 'acme')).toThrow(
      expect.objectContaining({ code: 'TENANTRY_INVALID_REF' }),
    )
    expect(() => tenantRef('page', 1)).toThrow(
      expect.objectContaining({ code: 'TENANTRY_NO_TENANT' }),
    )
  })

  it('checks the tenancy it is given', async () => {
    const tenancy = createTenancy()
    const ref = await tenancy.withTenant('acme', () =>
      tenantRef('page', 1, tenancy.requireTenant()),
    )
    expect(await tenancy.withTenant('acme', () => resolveTenantRef(ref, 'page', tenancy))).toBe('1')
    await tenancy.withTenant('globex', () =>
      expect(() => resolveTenantRef(ref, 'page', tenancy)).toThrow(WrongTenantError),
    )
  })
})
