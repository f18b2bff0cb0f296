// The same wiki on PostgreSQL (schema per wiki): only the store differs, the routes are the same.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WikiApp } from '../src/app.js'
import { form, startWiki } from './helpers.js'

const DATABASE_URL = process.env.DATABASE_URL || undefined
if (DATABASE_URL === undefined && process.env.TENANTRY_REQUIRE_SERVICES === '1')
  throw new Error(
    'DATABASE_URL is not set, but TENANTRY_REQUIRE_SERVICES=1: the wiki must run on PostgreSQL.',
  )

const suite = DATABASE_URL === undefined ? describe.skip : describe

suite(
  DATABASE_URL === undefined
    ? 'wiki on PostgreSQL (skipped: DATABASE_URL is not set)'
    : 'wiki on PostgreSQL',
  () => {
    let app: WikiApp
    let stop: () => Promise<void>
    // Other suites share the database: this run's schemas get a prefix of their own.
    const schemaPrefix = `wk${randomBytes(3).toString('hex')}_`

    beforeAll(async () => {
      ;({ app, stop } = await startWiki({ databaseUrl: DATABASE_URL, schemaPrefix }))
    })
    afterAll(() => stop?.())

    const get = (url: string) => app.inject({ method: 'GET', url })
    const post = (url: string, fields: Record<string, string>) =>
      app.inject({ method: 'POST', url, ...form(fields) })

    it('keeps each wiki in its own schema', async () => {
      expect(app.wiki.store.kind).toBe('postgres')
      expect((await post('/t/acme/pages', { title: 'On Postgres', body: '*pg*' })).statusCode).toBe(
        303,
      )
      expect((await get('/t/acme/pages/on-postgres')).body).toContain('<em>pg</em>')
      expect((await get('/t/globex/pages/on-postgres')).statusCode).toBe(404)
      await post('/t/acme/pages/on-postgres', { title: 'On Postgres', body: 'v2', revision: '1' })
      expect((await get('/t/acme/pages/on-postgres/history')).body).toContain('/revisions/2"')
      expect(app.wiki.outbox.messages('acme').map((m) => m.subject)).toContain(
        '[Acme wiki] On Postgres edited (revision 2)',
      )
    })

    it('applies settings without a restart, in one wiki only', async () => {
      await post('/t/globex/pages', { title: 'Hl', body: '<mark>x</mark>' })
      expect((await get('/t/globex/pages/hl')).body).toContain('<p>x</p>')
      const tags = 'p mark'
      expect(
        (await post('/t/globex/settings', { title: 'G', allowedTags: tags, notify: '' }))
          .statusCode,
      ).toBe(303)
      expect((await get('/t/globex/pages/hl')).body).toContain('<p><mark>x</mark></p>')
      expect((await get('/t/acme/settings')).body).toContain('value="Acme wiki"')
    })

    it('creates and destroys wikis from the admin', async () => {
      expect((await post('/admin/wikis', { name: 'initech' })).statusCode).toBe(303)
      expect((await get('/t/initech/pages/welcome')).statusCode).toBe(200)
      expect((await post('/admin/wikis/initech/destroy', {})).statusCode).toBe(303)
      expect((await get('/t/initech/')).statusCode).toBe(404)
      expect(await app.wiki.store.list()).toEqual(['acme', 'globex'])
    })
  },
)
