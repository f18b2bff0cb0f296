// The archive operations every store with an archive side must show (SQLite, PostgreSQL schema
// per tenant, row-level, sharded): a backup taken under 4 writers restores one consistent
// snapshot row for row, restores refuse to overwrite without force, clones carry rows and files.
// The migrations use only Kysely's builder and portable types, so they run on every backend.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTenancy, type Tenancy } from '@tenantry/context'
import type { TenantOperations, TenantStore } from '@tenantry/kysely'
import type { Kysely, Migration } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from './temp.js'

/** A store under the archive contract. */
export type ArchiveContractStore = TenantStore &
  Pick<TenantOperations, 'lifecycle' | 'backupTenant' | 'restoreTenant' | 'cloneTenant'> & {
    install(tenancy: Tenancy): unknown
  }

/** The archive contract's schema: items written by numbered writers, and their counters. */
export const archiveMigrations: Record<string, Migration> = {
  '001_item': {
    up: (db) =>
      db.schema
        .createTable('item')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('writer', 'integer', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('body', 'text')
        .execute(),
  },
  '002_counter': {
    up: (db) =>
      db.schema
        .createTable('counter')
        .addColumn('writer', 'integer', (c) => c.primaryKey())
        .addColumn('n', 'integer', (c) => c.notNull())
        .execute(),
  },
}

/** Registers the archive contract for one backend; `makeStore` gets an isolated tenancy. */
export function describeArchiveContract(
  name: string,
  makeStore: (setup: {
    tenancy: Tenancy
    migrations: Record<string, Migration>
    namespace: string
  }) => ArchiveContractStore | Promise<ArchiveContractStore>,
  options: { skip?: string | undefined } = {},
): void {
  const suite = options.skip === undefined ? describe : describe.skip
  suite(`archive contract: ${name}${options.skip ? ` (skipped: ${options.skip})` : ''}`, () => {
    const opened: ArchiveContractStore[] = []
    const root = tempDir('tenantry-archive-contract-')
    let made = 0
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close()
    })
    const make = async () => {
      const tenancy = createTenancy()
      const namespace = `a${++made}${Math.random().toString(36).slice(2, 7)}`
      const store = await makeStore({ tenancy, migrations: archiveMigrations, namespace })
      store.install(tenancy)
      const files = join(root, namespace)
      store.lifecycle.addFiles({ name: 'storage', dir: (t) => join(files, t) })
      opened.push(store)
      const db = () => tenancy.getResource('db') as Kysely<any>
      const read = (tenant: string) =>
        tenancy.withTenant(tenant, async () => ({
          // Named columns: a row-level store adds its tenant column to every table.
          items: await db()
            .selectFrom('item')
            .select(['id', 'writer', 'seq', 'body'])
            .orderBy('id')
            .execute(),
          counters: await db()
            .selectFrom('counter')
            .select(['writer', 'n'])
            .orderBy('writer')
            .execute(),
        }))
      return { store, tenancy, db, read, files: (t: string) => join(files, t) }
    }

    it('a backup taken while 4 writers run restores one consistent snapshot, row for row', async () => {
      const { store, tenancy, db, read, files } = await make()
      await store.createTenant('busy')
      mkdirSync(files('busy'), { recursive: true })
      writeFileSync(join(files('busy'), 'logo.png'), Buffer.from([0, 1, 2, 255]))
      await tenancy.withTenant('busy', () =>
        db()
          .insertInto('counter')
          .values([1, 2, 3, 4].map((writer) => ({ writer, n: 0 })))
          .execute(),
      )
      let stop = false
      let ids = 0
      const writer = (w: number) =>
        tenancy.withTenant('busy', async () => {
          for (let seq = 1; !stop; seq++) {
            const id = ++ids
            // One transaction: the item and its writer's counter move together.
            await db()
              .transaction()
              .execute(async (trx) => {
                await trx
                  .insertInto('item')
                  .values({ id, writer: w, seq, body: `w${w} #${seq}` })
                  .execute()
                await trx.updateTable('counter').set({ n: seq }).where('writer', '=', w).execute()
              })
            if (seq % 7 === 0) await new Promise((r) => setImmediate(r))
          }
        })
      const writers = [1, 2, 3, 4].map(writer)
      try {
        // Event-bounded: every writer has committed something before the backup starts.
        for (;;) {
          const { counters } = await read('busy')
          if (counters.every((c) => c.n > 0)) break
          await new Promise((r) => setTimeout(r, 10))
        }
        const dest = join(root, `busy-${made}.tar`)
        await store.backupTenant('busy', dest)
        stop = true
        await Promise.all(writers)
        const r = await store.restoreTenant(dest, { as: 'busy-copy' })
        expect(r).toMatchObject({ tenant: 'busy-copy', manifest: { tenant: 'busy' } })
        const copy = await read('busy-copy')
        const live = await read('busy')
        // One snapshot: each writer's counter equals its items, seqs 1..n without a gap.
        expect(copy.counters).toHaveLength(4)
        for (const c of copy.counters) {
          const mine = copy.items.filter((i) => i.writer === c.writer).map((i) => i.seq)
          expect(mine.sort((a, b) => a - b)).toEqual(Array.from({ length: c.n }, (_, i) => i + 1))
        }
        // Row for row: every restored row is the live one of that id.
        const byId = new Map(live.items.map((i) => [i.id, i]))
        for (const item of copy.items) expect(item).toEqual(byId.get(item.id))
        expect(copy.items.length).toBeLessThan(live.items.length)
        expect(readFileSync(join(files('busy-copy'), 'logo.png'))).toEqual(
          Buffer.from([0, 1, 2, 255]),
        )
        // The restored tenant takes writes again (keys and sequences intact).
        await tenancy.withTenant('busy-copy', () =>
          db().insertInto('item').values({ id: 1_000_000, writer: 9, seq: 1 }).execute(),
        )
      } finally {
        stop = true
        await Promise.allSettled(writers)
      }
    })

    it('refuses to overwrite without force; with force replaces rows and files', async () => {
      const { store, tenancy, db, read, files } = await make()
      await store.createTenant('acme')
      await tenancy.withTenant('acme', () =>
        db().insertInto('item').values({ id: 1, writer: 0, seq: 1, body: 'kept' }).execute(),
      )
      mkdirSync(files('acme'), { recursive: true })
      writeFileSync(join(files('acme'), 'a.txt'), 'a')
      const dest = join(root, `acme-${made}.tar`)
      await store.backupTenant('acme', dest)
      await tenancy.withTenant('acme', () =>
        db().insertInto('item').values({ id: 2, writer: 0, seq: 2, body: 'later' }).execute(),
      )
      writeFileSync(join(files('acme'), 'new.txt'), 'later')
      await expect(store.restoreTenant(dest)).rejects.toMatchObject({
        code: 'TENANTRY_TENANT_EXISTS',
      })
      expect((await read('acme')).items).toHaveLength(2)
      const restored: string[] = []
      store.lifecycle.on('restored', ({ tenant, from }) => {
        restored.push(`${from}->${tenant}`)
      })
      await store.restoreTenant(dest, { force: true })
      expect(restored).toEqual(['acme->acme'])
      expect((await read('acme')).items.map((i) => i.body)).toEqual(['kept'])
      expect(readFileSync(join(files('acme'), 'a.txt'), 'utf8')).toBe('a')
      expect(() => readFileSync(join(files('acme'), 'new.txt'))).toThrow(/ENOENT/)
      expect(await store.list()).toEqual(['acme'])
    })

    it('clone copies rows and files into a new tenant, leaving the source as it was', async () => {
      const { store, tenancy, db, read, files } = await make()
      await store.createTenant('src')
      await tenancy.withTenant('src', () =>
        db()
          .insertInto('item')
          .values([
            { id: 1, writer: 1, seq: 1, body: "O'Brien \u00e9" },
            { id: 2, writer: 1, seq: 2, body: null },
          ])
          .execute(),
      )
      mkdirSync(join(files('src'), 'docs'), { recursive: true })
      writeFileSync(join(files('src'), 'docs', 'x.txt'), 'x')
      await store.cloneTenant('src', 'src-staging')
      expect(await read('src-staging')).toEqual(await read('src'))
      expect(readFileSync(join(files('src-staging'), 'docs', 'x.txt'), 'utf8')).toBe('x')
      expect(await store.list()).toEqual(['src', 'src-staging'])
      await store.destroyTenant('src-staging')
      expect((await read('src')).items).toHaveLength(2)
    })
  })
}
