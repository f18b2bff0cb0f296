import { getMail, type ResourceOverrides, withOverrides } from '@tenantry/context'
import type { TenantMailer } from '@tenantry/mail'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { type FakeMailer, fakeMailer, useOverrides } from '../../src/index.ts'

// The mail README's declaration. This folder has its own tsconfig (`pnpm typecheck` runs it):
// an augmentation is global to a TypeScript program, so it must not meet the other tests.
declare module '@tenantry/context' {
  interface Resources {
    mail: TenantMailer
  }
}

// docs/testing.md's form: before FakeMailer had TenantMailer's `tenant`, `settings` and
// `transporter`, this line was TS2739 under `Resources.mail: TenantMailer`.
const mocks = useOverrides(() => ({ mail: fakeMailer() }))

describe('a FakeMailer is a mail override when Resources.mail is TenantMailer', () => {
  it('types the override and the mocks getter', () => {
    expectTypeOf(fakeMailer()).toExtend<TenantMailer>()
    expectTypeOf<{ mail: FakeMailer }>().toExtend<ResourceOverrides>()
    expectTypeOf(mocks).returns.toEqualTypeOf<{ mail: FakeMailer }>()
  })

  it('is what getMail() returns inside useOverrides, with the current tenant', async () => {
    expect(getMail()).toBe(mocks().mail)
    expect(getMail().tenant).toBeUndefined()
    await getMail().send({ to: 'ann@example.org', subject: 'Hi', text: 'x' })
    expect(mocks().mail.last()?.envelope.to).toEqual(['ann@example.org'])
    expect(mocks().mail.settings.from).toBe('"Test" <test@example.test>')
  })

  it('works with withOverrides as well', async () => {
    const fake = fakeMailer({ from: 'x@example.test' })
    await withOverrides({ mail: fake }, () => getMail().send({ to: 'bo@example.org', text: 'y' }))
    expect(fake.sentTo('bo@example.org')).toHaveLength(1)
    expect(fake.transporter).toBeDefined()
  })
})
