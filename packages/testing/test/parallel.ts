// Shared by parallel-*.test.ts: Vitest runs those files in parallel workers, all on ONE store
// root (one per Vitest run: the workers' parent pid), so tenants would collide if their names
// were not per worker.
import { rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withTenant } from '@tenantry/context'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createTestTenants } from '../src/index.js'
import { db, makeStore, notes } from './helpers.js'

/** Declares the collision-detecting suite of one parallel file. */
export function parallelSuite(label: string): void {
  const root = join(tmpdir(), `tenantry-testing-run-${process.ppid}`)
  const store = makeStore(root)
  const tt = createTestTenants({ store })
  const owner = `owner ${process.pid}`

  beforeAll(async () => {
    await tt.setup()
    // Committed: if another worker shared this tenant it would recreate it (the marker
    // vanishes) or add its own marker (two owners).
    await withTenant(tt.tenant, () => db().insertInto('note').values({ body: owner }).execute())
  })

  describe(`${label} (pool ${process.env.VITEST_POOL_ID})`, () => {
    tt.use()
    for (let round = 0; round < 6; round++) {
      test(`round ${round}: sees only its own worker's rows`, async () => {
        expect(tt.tenant).toBe(`test-${process.env.VITEST_POOL_ID}`)
        for (let i = 0; i < 5; i++)
          await db()
            .insertInto('note')
            .values({ body: `${label} ${round}.${i}` })
            .execute()
        const mine = Array.from({ length: 5 }, (_, i) => `${label} ${round}.${i}`)
        expect(await notes()).toEqual([...mine, owner].sort())
      })
    }
  })

  afterAll(async () => {
    expect(await withTenant(tt.tenant, notes)).toEqual([owner])
    await store.destroyTenant(tt.tenant)
    // Best effort: other workers may still use the root.
    for (const dir of [join(root, 'tenants'), root])
      try {
        rmdirSync(dir)
      } catch {}
  })
}
