import { currentTenant, withTenant } from '@tenantry/context'
import { expect, it } from 'vitest'

it('smoke', async () => {
  expect(await withTenant('acme', () => currentTenant())).toBe('acme')
})
