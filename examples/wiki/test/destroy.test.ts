// Destroying a wiki from each entry point — the admin route, the store API, the `tenantry`
// CLI — leaves no file, row or mail of it, and a wiki re-created under the name starts empty.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { run } from '@tenantry/cli'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WikiApp } from '../src/app.js'
import { attachWikiFootprint, createWikiStore } from '../src/tenancy.js'
import { startWiki, upload } from './helpers.js'

let app: WikiApp
let dataDir: string
let stop: () => Promise<void>

beforeAll(async () => {
  ;({ app, dataDir, stop } = await startWiki())
})
afterAll(() => stop())

/** Gives `tenant` an attachment and a sent mail; returns where its files are. */
async function footprint(tenant: string): Promise<string> {
  const file = await upload('notes.txt', `notes of ${tenant}`)
  const res = await app.inject({
    method: 'POST',
    url: `/t/${tenant}/pages/welcome/attachments`,
    payload: file.payload,
    headers: file.headers,
  })
  expect(res.statusCode).toBeLessThan(400)
  await app.inject({
    method: 'POST',
    url: `/t/${tenant}/pages/welcome`,
    payload: new URLSearchParams({ title: 'Welcome', body: 'edited', summary: 'x' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  const files = join(dataDir, 'tenants', tenant, 'files')
  expect(existsSync(files)).toBe(true)
  return files
}

/** Nothing of `tenant` is left: no folder, no file anywhere under the data root, no mail. */
function expectGone(tenant: string): void {
  expect(existsSync(join(dataDir, 'tenants', tenant))).toBe(false)
  const all = readdirSync(dataDir, { recursive: true }) as string[]
  expect(all.filter((p) => p.split('/').includes(tenant))).toEqual([])
  expect(app.wiki.outbox.messages(tenant)).toEqual([])
}

describe('destroying a wiki from each entry point', () => {
  it('the admin route', async () => {
    await app.wiki.createWiki('via-admin')
    await footprint('via-admin')
    const res = await app.inject({
      method: 'POST',
      url: '/admin/wikis/via-admin/destroy',
      headers: { host: 'localhost', 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    })
    expect(res.statusCode).toBe(303)
    expectGone('via-admin')
  })

  it('the store API, and a re-created wiki inherits nothing', async () => {
    await app.wiki.createWiki('via-api')
    await footprint('via-api')
    expect(app.wiki.outbox.messages('via-api').length).toBeGreaterThan(0)
    await app.wiki.store.destroyTenant('via-api')
    expectGone('via-api')
    await app.wiki.createWiki('via-api')
    expect(existsSync(join(dataDir, 'tenants', 'via-api', 'files'))).toBe(false)
    const page = await app.inject({
      url: '/t/via-api/pages/welcome',
      headers: { host: 'localhost' },
    })
    expect(page.body).not.toContain('notes.txt')
  })

  it('the tenantry CLI with the wiki config', async () => {
    await app.wiki.createWiki('via-cli')
    await footprint('via-cli')
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    const loadStore = async () => {
      // What tenantry.config.ts builds: the wiki store with the wiki's footprint attached.
      const store = createWikiStore({ dataDir })
      attachWikiFootprint(store, { dataDir, outbox: app.wiki.outbox })
      return store
    }
    const code = await run(['destroy', 'via-cli', '--yes'], {
      stdout,
      stderr,
      stdin: Object.assign(new PassThrough(), { isTTY: false }),
      loadStore,
    })
    expect(code).toBe(0)
    expectGone('via-cli')
    // The app's own store learns it from the files (its positive exists() cache may lag ≤ 1 s).
    expect(await app.wiki.store.list()).not.toContain('via-cli')
  })
})
