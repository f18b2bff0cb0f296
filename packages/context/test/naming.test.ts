import {
  createNameValidator,
  createTenancy,
  DNS_LABEL,
  InvalidTenantNameError,
} from '@tenantry/context'
import { describe, expect, it } from 'vitest'

describe('tenant names', () => {
  const validate = createNameValidator()

  it.each(['a', 'acme', 'acme-corp', 'a1', '0', 'x'.repeat(63)])('accepts %j', (name) => {
    expect(validate(name)).toBe(name)
  })

  it.each([
    ['empty', ''],
    ['dot', '.'],
    ['dot-dot', '..'],
    ['slash', 'a/b'],
    ['traversal', '../etc'],
    ['backslash', 'a\\b'],
    ['NUL', 'a\u0000b'],
    ['space', 'a b'],
    ['leading space', ' a'],
    ['tab', 'a\tb'],
    ['newline', 'a\n'],
    ['upper case', 'Acme'],
    ['leading hyphen', '-a'],
    ['trailing hyphen', 'a-'],
    ['underscore', 'a_b'],
    ['too long', 'x'.repeat(64)],
    ['unicode', 'ácme'],
  ])('refuses %s with InvalidTenantNameError', (_, name) => {
    expect(() => validate(name)).toThrow(InvalidTenantNameError)
    expect(() => validate(name)).toThrow(
      expect.objectContaining({ code: 'TENANTRY_INVALID_TENANT_NAME' }),
    )
  })

  it('refuses non-strings', () => {
    expect(() => validate(undefined)).toThrow(/must be a string/)
    expect(() => validate(42)).toThrow(InvalidTenantNameError)
  })

  it('remembers accepted names without accepting anything else after them', () => {
    const v = createNameValidator()
    expect(v('acme')).toBe('acme')
    expect(v('acme')).toBe('acme')
    for (const bad of ['Acme', 'acme ', undefined, 42, ''])
      expect(() => v(bad)).toThrow(InvalidTenantNameError)
    expect(v('acme')).toBe('acme')
  })

  it('takes a custom rule, but still refuses path characters whatever it says', () => {
    const loose = createNameValidator({ rule: () => true, maxLength: 100 })
    expect(loose('Acme_Corp:eu')).toBe('Acme_Corp:eu')
    for (const bad of ['..', '.', 'a/b', 'a\\b', 'a\u0000', ' a'])
      expect(() => loose(bad)).toThrow()
    const withReason = createNameValidator({
      rule: (n) => n.startsWith('t-') || 'must start with t-',
    })
    expect(() => withReason('acme')).toThrow(/must start with t-/)
    const regex = createNameValidator({ rule: /^[a-z]+$/ })
    expect(() => regex('a1')).toThrow(/does not match/)
  })

  it('is used by the tenancy before anything else happens', async () => {
    const t = createTenancy({ naming: { rule: /^[A-Z]+$/ } })
    await expect(t.withTenant('ACME', () => t.currentTenant())).resolves.toBe('ACME')
    await expect(t.withTenant('acme', () => 1)).rejects.toBeInstanceOf(InvalidTenantNameError)
    expect(DNS_LABEL.test('acme')).toBe(true)
  })
})
