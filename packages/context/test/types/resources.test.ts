import {
  getDb,
  getMail,
  getResource,
  getStorage,
  type ResourceOf,
  withOverrides,
  withTenant,
} from '@tenantry/context'
import { describe, expectTypeOf, it } from 'vitest'

interface FakeDb {
  query(sql: string): string[]
}

// The way an application types its getters. This file has its own tsconfig: a module
// augmentation is global to a TypeScript program, so it must not meet the other tests.
declare module '@tenantry/context' {
  interface Resources {
    db: FakeDb
    mail: { send(to: string): Promise<void> }
  }
}

describe('typed getters through declaration merging', () => {
  it('returns exactly the declared types', () => {
    expectTypeOf(getDb).returns.toEqualTypeOf<FakeDb>()
    expectTypeOf(getMail).returns.toEqualTypeOf<{ send(to: string): Promise<void> }>()
    expectTypeOf(getStorage).returns.toEqualTypeOf<unknown>()
    expectTypeOf(getResource<'db'>).returns.toEqualTypeOf<FakeDb>()
    expectTypeOf<ResourceOf<'cache'>>().toEqualTypeOf<unknown>()
  })

  it('types overrides and withTenant results', () => {
    expectTypeOf(withTenant('a', async () => 42)).toEqualTypeOf<Promise<number>>()
    expectTypeOf(withOverrides({ db: { query: () => [] } }, () => 'x')).toEqualTypeOf<string>()
    // @ts-expect-error a db override must be a FakeDb
    withOverrides({ db: 42 }, () => undefined)
  })
})
