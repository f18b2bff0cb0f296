// Extra tenants: naming, entering them from a test, and cleanup at the start of the next run.
import { currentTenant, isTenantryError, withTenant } from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import { describe, expect, it } from 'vitest'
import { cleanupTestTenants, createTestTenants } from '../src/index.js'
import { db, makeStore, notes } from './helpers.js'

const store = makeStore(tempDir('tenantry-testing-'))

describe('extra tenants', () => {
  const tt = createTestTenants({ store, worker: '7' })
  tt.use()

  it('are created migrated, with a recognisable per-worker prefix', async () => {
    const a = await tt.createTenant()
    const b = await tt.createTenant('Signup Flow')
    expect(a).toMatch(/^tmp-7-[a-z0-9]+$/)
    expect(b).toMatch(/^tmp-7-[a-z0-9]+-signup-flow$/)
    expect(a).not.toBe(b)
    expect((await store.tenantInfo(b)).pending).toEqual([])
  })

  it('can be entered from the worker tenant with inTenant (plain withTenant refuses)', async () => {
    const extra = await tt.createTenant()
    await db().insertInto('note').values({ body: 'in the worker tenant' }).execute()
    await expect(withTenant(extra, () => 1)).rejects.toSatisfy((e) =>
      isTenantryError(e, 'TENANTRY_TENANT_SWITCH'),
    )
    const seen = await tt.inTenant(extra, async () => {
      // The worker tenant's transaction does not follow into another tenant.
      expect(db().isTransaction).toBe(false)
      await db().insertInto('note').values({ body: 'in the extra tenant' }).execute()
      return [currentTenant(), await notes()]
    })
    expect(seen).toEqual([extra, ['in the extra tenant']])
    expect(await notes()).toEqual(['in the worker tenant'])
  })
})

describe('cleanup at the start of the next run', () => {
  it("destroys this worker's leftovers only, and recreates the worker tenant empty", async () => {
    // "Previous run": worker 8 and worker 9 leave extra tenants and a committed row.
    const previous8 = createTestTenants({ store, worker: '8' })
    const previous9 = createTestTenants({ store, worker: '9' })
    await previous8.setup()
    await previous9.setup()
    const left8 = await previous8.createTenant()
    const left9 = await previous9.createTenant()
    await withTenant(previous8.tenant, () =>
      db().insertInto('note').values({ body: 'committed last run' }).execute(),
    )

    // "Next run" of worker 8: a fresh TestTenants (new process) sets up.
    const next8 = createTestTenants({ store, worker: '8' })
    await next8.setup()
    const tenants = await store.list()
    expect(tenants).not.toContain(left8)
    expect(tenants).toContain(left9) // worker 9 may still be running: not ours to delete
    expect(tenants).toContain('test-8')
    expect(await withTenant('test-8', notes)).toEqual([])
  })

  it('fresh: false keeps the worker tenant and only migrates it', async () => {
    const first = createTestTenants({ store, worker: '10', fresh: false })
    await first.setup()
    await withTenant('test-10', () => db().insertInto('note').values({ body: 'kept' }).execute())
    const again = createTestTenants({ store, worker: '10', fresh: false })
    await again.setup()
    expect(await withTenant('test-10', notes)).toEqual(['kept'])
  })

  it('cleanupTestTenants (for a globalSetup) removes every test and tmp tenant', async () => {
    await store.createTenant('acme')
    const tt = createTestTenants({ store, worker: '11' })
    await tt.setup()
    await tt.createTenant()
    const gone = await cleanupTestTenants(store)
    expect(gone.length).toBeGreaterThanOrEqual(2)
    expect(gone.every((t) => /^(test|tmp)-/.test(t))).toBe(true)
    expect(await store.list()).toEqual(['acme'])
  })

  it('rejects a worker id that cannot make a tenant name', () => {
    expect(() => createTestTenants({ store, worker: 'x'.repeat(80) })).toThrow(
      expect.objectContaining({ code: 'TENANTRY_INVALID_TENANT_NAME' }),
    )
  })
})
