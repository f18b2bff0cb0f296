// The worker tenant: its name, set-up once per worker, and rollback isolation between tests.
import { currentTenant, getResource, withTenant } from '@tenantry/context'
import { withTransaction } from '@tenantry/sqlite'
import { tempDir } from '@tenantry/test-utils'
import { afterAll, beforeEach, describe, expect, it, test } from 'vitest'
import { createTestTenants } from '../src/index.js'
import { db, makeStore, notes } from './helpers.js'

const store = makeStore(tempDir('tenantry-testing-'))
const tt = createTestTenants({ store })

describe('the worker tenant', () => {
  it('is named after the Vitest pool id and is a valid DNS label', () => {
    expect(process.env.VITEST_POOL_ID).toBeDefined()
    expect(tt.tenant).toBe(`test-${process.env.VITEST_POOL_ID}`)
    expect(tt.tenant).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
  })

  it('is created once, with the migrations, and setup() is memoised', async () => {
    const [a, b] = await Promise.all([tt.setup(), tt.setup()])
    expect(a).toBe(tt.tenant)
    expect(b).toBe(tt.tenant)
    expect(await store.list()).toContain(tt.tenant)
    expect((await store.tenantInfo(tt.tenant)).pending).toEqual([])
  })
})

describe('use(): every test in a rolled-back transaction', () => {
  tt.use()
  let seen: string | undefined
  beforeEach(async () => {
    // beforeEach runs inside the tenant and the transaction too, so seeds are rolled back.
    seen = currentTenant()
    await db().insertInto('note').values({ body: 'seed' }).execute()
  })

  test('the body and beforeEach run inside the worker tenant', () => {
    expect(seen).toBe(tt.tenant)
    expect(currentTenant()).toBe(tt.tenant)
    expect(db().isTransaction).toBe(true)
  })

  test('a test writes rows', async () => {
    await db().insertInto('note').values({ body: 'first test' }).execute()
    expect(await notes()).toEqual(['first test', 'seed'])
  })

  test('the next test does not see them (nor the previous seed)', async () => {
    expect(await notes()).toEqual(['seed'])
  })

  test('app code that commits its own withTransaction is rolled back too', async () => {
    await withTransaction(async () => {
      await db().insertInto('note').values({ body: 'committed by the app' }).execute()
    })
    // A failing inner transaction rolls back to its savepoint only.
    await expect(
      withTransaction(async () => {
        await db().insertInto('note').values({ body: 'doomed' }).execute()
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(await notes()).toEqual(['committed by the app', 'seed'])
  })

  test('after that, still only the seed', async () => {
    expect(await notes()).toEqual(['seed'])
  })

  test('a failing test rolls back too (checked from afterAll below)', async () => {
    await db().insertInto('note').values({ body: 'from a failing test' }).execute()
    await expect(
      tt.run(async () => {
        await db().insertInto('note').values({ body: 'nested run' }).execute()
        throw new Error('test failure')
      }),
    ).rejects.toThrow('test failure')
    // The nested run was a savepoint: its row is gone, the outer one is not (yet).
    expect(await notes()).toEqual(['from a failing test', 'seed'])
  })
})

describe('explicit forms', () => {
  tt.test('tt.test(name, fn) runs the body in the tenant', async (tenant) => {
    expect(tenant).toBe(tt.tenant)
    expect(currentTenant()).toBe(tt.tenant)
    await db().insertInto('note').values({ body: 'explicit' }).execute()
    expect(await notes()).toEqual(['explicit'])
  })

  it('tt.run(fn) works inside any test and returns its value', async () => {
    expect(currentTenant()).toBeUndefined()
    const n = await tt.run(async () => {
      await db().insertInto('note').values({ body: 'x' }).execute()
      return (await notes()).length
    })
    expect(n).toBe(1)
    expect(currentTenant()).toBeUndefined()
  })

  it('tt.run rejects with the body error and still rolls back', async () => {
    await expect(
      tt.run(async () => {
        await db().insertInto('note').values({ body: 'y' }).execute()
        throw new Error('nope')
      }),
    ).rejects.toThrow('nope')
  })
})

afterAll(async () => {
  // Outside any test transaction: nothing any test wrote was committed.
  const committed = await withTenant(tt.tenant, () =>
    (getResource('db') as ReturnType<typeof db>).selectFrom('note').selectAll().execute(),
  )
  expect(committed).toEqual([])
})
