// The wiki's flows through fastify.inject: two seeded wikis, each in its own database.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WikiApp } from '../src/app.js'
import { form, startWiki, upload } from './helpers.js'

let app: WikiApp
let dataDir: string
let stop: () => Promise<void>

beforeAll(async () => {
  ;({ app, dataDir, stop } = await startWiki())
})
afterAll(() => stop())

const get = (url: string, host = 'localhost') =>
  app.inject({ method: 'GET', url, headers: { host } })
const post = (url: string, fields: Record<string, string>, host = 'localhost') => {
  const f = form(fields)
  return app.inject({ method: 'POST', url, payload: f.payload, headers: { ...f.headers, host } })
}

describe('pages', () => {
  it('creates, views and edits a page in one wiki; the other wiki never sees it', async () => {
    const created = await post('/t/acme/pages', {
      title: 'Rocket Skates',
      body: '# Rocket skates\n\nThey **work**.',
    })
    expect(created.statusCode).toBe(303)
    expect(created.headers.location).toBe('/t/acme/pages/rocket-skates')

    const view = await get('/t/acme/pages/rocket-skates')
    expect(view.statusCode).toBe(200)
    expect(view.body).toContain('<h1>Rocket skates</h1>')
    expect(view.body).toContain('<strong>work</strong>')
    expect(view.body).toContain('href="/t/acme/pages/rocket-skates/edit"')

    // The same wiki by subdomain: the same database, links without the /t/ prefix.
    const bySubdomain = await get('/pages/rocket-skates', 'acme.localhost:3000')
    expect(bySubdomain.statusCode).toBe(200)
    expect(bySubdomain.body).toContain('href="/pages/rocket-skates/edit"')

    const edited = await post('/t/acme/pages/rocket-skates', {
      title: 'Rocket Skates',
      body: 'They **mostly** work.',
      revision: '1',
      summary: 'honesty',
    })
    expect(edited.statusCode).toBe(303)
    const after = await get('/t/acme/pages/rocket-skates')
    expect(after.body).toContain('<strong>mostly</strong>')
    expect(after.body).toContain('revision 2')

    for (const [url, host] of [
      ['/t/globex/pages/rocket-skates', 'localhost'],
      ['/pages/rocket-skates', 'globex.localhost:3000'],
    ] as const) {
      expect((await get(url, host)).statusCode).toBe(404)
    }
    expect((await get('/t/globex/')).body).not.toContain('Rocket')
    expect((await get('/t/acme/')).body).toContain('Rocket Skates')
  })

  it('keeps every revision and refuses an edit on top of a stale one', async () => {
    await post('/t/globex/pages', { title: 'Plans', body: 'v1' })
    await post('/t/globex/pages/plans', { title: 'Plans', body: 'v2', revision: '1' })
    const stale = await post('/t/globex/pages/plans', {
      title: 'Plans',
      body: 'v2b',
      revision: '1',
    })
    expect(stale.statusCode).toBe(409)
    expect(stale.body).toContain('Someone saved revision 2')

    const history = await get('/t/globex/pages/plans/history')
    expect(history.body.match(/\/revisions\/\d+"/g)).toEqual(['/revisions/2"', '/revisions/1"'])
    expect((await get('/t/globex/pages/plans/revisions/1')).body).toContain('<p>v1</p>')
    expect((await get('/t/globex/pages/plans')).body).toContain('<p>v2</p>')
  })

  it('gives a second page with the same title its own slug', async () => {
    await post('/t/globex/pages', { title: 'Dup', body: 'one' })
    const second = await post('/t/globex/pages', { title: 'Dup', body: 'two' })
    expect(second.headers.location).toBe('/t/globex/pages/dup-2')
  })

  it('escapes titles and strips scripts from Markdown', async () => {
    await post('/t/acme/pages', {
      title: '<img src=x onerror=alert(1)>',
      body: 'hi <script>alert(1)</script> <a href="javascript:alert(1)">x</a>',
    })
    const page = await get('/t/acme/pages/img-src-x-onerror-alert-1')
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(page.body).not.toContain('<script>alert')
    expect(page.body).not.toContain('javascript:')
  })

  it('refuses a page without a title', async () => {
    const res = await post('/t/acme/pages', { title: '  ', body: 'x' })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('A page needs a title.')
  })
})

describe('settings', () => {
  it('re-renders with new settings without a restart, in that wiki only', async () => {
    await post('/t/acme/pages', { title: 'Marked', body: 'a <mark>highlight</mark>' })
    await post('/t/globex/pages', { title: 'Marked', body: 'a <mark>highlight</mark>' })
    const before = await get('/t/acme/pages/marked')
    expect(before.body).toContain('<p>a highlight</p>') // <mark> is not allowed by default
    expect(before.body).toContain('Acme wiki')

    const settings = await get('/t/acme/settings')
    const tags = /name="allowedTags" value="([^"]*)"/.exec(settings.body)![1]!
    const saved = await post('/t/acme/settings', {
      title: 'ACME Knowledge Base',
      allowedTags: `${tags} mark`,
      notify: 'editors@acme.example.com',
    })
    expect(saved.statusCode).toBe(303)

    const after = await get('/t/acme/pages/marked')
    expect(after.body).toContain('<p>a <mark>highlight</mark></p>')
    expect(after.body).toContain('ACME Knowledge Base')

    const other = await get('/t/globex/pages/marked')
    expect(other.body).toContain('<p>a highlight</p>')
    expect(other.body).toContain('Globex wiki')
    expect(other.body).not.toContain('ACME Knowledge Base')

    // The mailer is a dependent of the settings too: the sender name follows the new title.
    await post('/t/acme/pages/marked', { title: 'Marked', body: 'b', revision: '1' })
    expect(app.wiki.outbox.last('acme')?.headers.from).toBe(
      'ACME Knowledge Base <wiki@acme.localhost>',
    )
  })

  it('refuses dangerous tags and bad values, and keeps the old settings', async () => {
    const res = await post('/t/globex/settings', {
      title: 'G',
      allowedTags: 'p script',
      notify: '',
    })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('&lt;script&gt; can never be allowed')
    await post('/t/globex/pages', { title: 'Scripted', body: '<script>x()</script>ok' })
    expect((await get('/t/globex/pages/scripted')).body).not.toContain('<script>x()')
    expect((await get('/t/globex/settings')).body).toContain('value="Globex wiki"')
  })
})

describe('mail', () => {
  it("sends a notification on save, visible in that wiki's outbox only", async () => {
    app.wiki.outbox.clear()
    await post('/t/globex/pages', { title: 'Quarterly Report', body: 'Numbers.' })
    const outbox = await get('/t/globex/outbox')
    expect(outbox.body).toContain('[Globex wiki] Quarterly Report created')
    expect(outbox.body).toContain('http://globex.localhost:3000/pages/quarterly-report')
    expect(outbox.body).toContain('to editors@globex.example.com')
    expect((await get('/t/acme/outbox')).body).not.toContain('Quarterly Report')

    const [mail] = app.wiki.outbox.messages('globex')
    expect(mail?.headers.from).toBe('Globex wiki <wiki@globex.localhost>')
    expect(app.wiki.outbox.messages('acme')).toEqual([])
  })
})

describe('attachments', () => {
  it("stores uploads in the wiki's own storage", async () => {
    const file = await upload('../../notes.txt', 'attached text')
    const res = await app.inject({
      method: 'POST',
      url: '/t/acme/pages/welcome/attachments',
      payload: file.payload,
      headers: { ...file.headers, host: 'localhost' },
    })
    expect(res.statusCode).toBe(303)
    expect((await get('/t/acme/pages/welcome')).body).toContain('>notes.txt</a>')
    const download = await get('/t/acme/pages/welcome/attachments/notes.txt')
    expect(download.statusCode).toBe(200)
    expect(download.body).toBe('attached text')
    expect(existsSync(join(dataDir, 'tenants/acme/files/attachments/welcome/notes.txt'))).toBe(true)

    expect((await get('/t/globex/pages/welcome/attachments/notes.txt')).statusCode).toBe(404)
    expect((await get('/t/acme/pages/welcome/attachments/..%2Fdb.sqlite3')).statusCode).toBe(404)
  })

  it('serves uploaded HTML and SVG as downloads, never inline as markup', async () => {
    for (const name of ['evil.html', 'evil.svg', 'evil.HTM']) {
      const file = await upload(name, '<svg onload=alert(1)><script>alert(1)</script>')
      await app.inject({
        method: 'POST',
        url: '/t/acme/pages/welcome/attachments',
        payload: file.payload,
        headers: { ...file.headers, host: 'localhost' },
      })
      const res = await get(`/t/acme/pages/welcome/attachments/${name}`)
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('application/octet-stream')
      expect(res.headers['content-disposition']).toBe(`attachment; filename="${name}"`)
      expect(res.headers['x-content-type-options']).toBe('nosniff')
    }
    const text = await get('/t/acme/pages/welcome/attachments/notes.txt')
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(text.headers['content-security-policy']).toContain('sandbox')
  })
})

describe('admin and tenants', () => {
  it('lists wikis on the bare host, creates and destroys them (files too)', async () => {
    const home = await get('/', 'localhost:3000')
    expect(home.body).toContain('href="http://acme.localhost:3000/"')
    expect(home.body).toContain('href="/t/globex/"')

    expect((await post('/admin/wikis', { name: 'initech' })).statusCode).toBe(303)
    expect((await get('/')).body).toContain('/t/initech/')
    expect((await get('/t/initech/pages/welcome')).statusCode).toBe(200)
    expect((await post('/admin/wikis', { name: 'initech' })).statusCode).toBe(409)

    const file = await upload('tps.txt', 'cover sheet')
    await app.inject({
      method: 'POST',
      url: '/t/initech/pages/welcome/attachments',
      payload: file.payload,
      headers: file.headers,
    })
    expect(existsSync(join(dataDir, 'tenants/initech/files'))).toBe(true)

    expect((await post('/admin/wikis/initech/destroy', {})).statusCode).toBe(303)
    expect((await get('/t/initech/')).statusCode).toBe(404)
    expect(existsSync(join(dataDir, 'tenants/initech'))).toBe(false)
    expect(await app.wiki.store.list()).toEqual(['acme', 'globex'])
    expect((await post('/admin/wikis/initech/destroy', {})).statusCode).toBe(404)
  })

  it('answers 404 for an unknown wiki, by path and by subdomain', async () => {
    const byPath = await get('/t/nowhere/')
    expect(byPath.statusCode).toBe(404)
    expect(byPath.body).toContain('TENANTRY_UNKNOWN_TENANT')
    expect((await get('/', 'nowhere.localhost:3000')).statusCode).toBe(404)
    expect(existsSync(join(dataDir, 'tenants/nowhere'))).toBe(false)
  })

  it('refuses bad names before touching anything', async () => {
    expect((await get('/t/Bad_Name/')).statusCode).toBe(400)
    expect((await get('/t/..%2F..%2Fetc/')).statusCode).toBe(400)
    for (const name of ['../evil', 'UPPER_case', 'www', '', `${'a'.repeat(64)}`]) {
      const res = await post('/admin/wikis', { name })
      expect(res.statusCode, name).toBe(400)
      expect(res.body).toContain('Cannot create')
    }
    expect((await post('/admin/wikis/..%2Fx/destroy', {})).statusCode).toBe(400)
    expect(await app.wiki.store.list()).toEqual(['acme', 'globex'])
  })

  it('keeps the admin off wiki hosts and wiki pages off the bare host', async () => {
    expect((await post('/admin/wikis', { name: 'sneaky' }, 'acme.localhost')).statusCode).toBe(404)
    expect((await get('/pages/welcome')).statusCode).toBe(404)
    // Two names for one request (host says acme, path says globex): neither is served.
    expect((await get('/t/globex/', 'acme.localhost')).statusCode).toBe(404)
  })
})
