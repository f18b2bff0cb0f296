// Mocks through withOverrides: what they record, and that they never leak into the next test.
import { Readable } from 'node:stream'
import {
  configureTenancy,
  getMail,
  getRenderer,
  getResource,
  getStorage,
  isTenantryError,
  withOverrides,
  withTenant,
} from '@tenantry/context'
import { tempDir } from '@tenantry/test-utils'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type FakeMailer,
  fakeMailer,
  MemoryStorage,
  memoryStorage,
  spyRenderer,
  useOverrides,
} from '../src/index.js'
import { makeStore } from './helpers.js'

// The "real" resources the app would use; mocks must win inside tests and vanish after.
const real = { mail: { real: 'mail' }, storage: { real: 'storage' }, renderer: { real: 'r' } }
configureTenancy({
  resources: {
    mail: { create: () => real.mail, fallback: () => real.mail },
    storage: { fallback: () => real.storage },
    renderer: { create: () => real.renderer, fallback: () => real.renderer },
  },
})
const store = makeStore(tempDir('tenantry-testing-'))
await store.createTenant('acme')

// Code under test: uses the getters only.
async function welcome(to: string): Promise<void> {
  const mail = getMail() as unknown as FakeMailer
  const html = (getRenderer() as { render(s: string): string }).render(`# Hi ${to}`)
  await mail.send({ to, subject: 'Welcome', html, text: mail.tenantUrl('/start') })
}

describe('useOverrides: fresh mocks around each test', () => {
  const mocks = useOverrides(() => ({
    mail: fakeMailer(),
    storage: memoryStorage(),
    renderer: spyRenderer((s: string) => `<h1>${s.slice(2)}</h1>`),
  }))
  const seen: unknown[] = []

  it('the getters return the mocks, and they record', async () => {
    seen.push(mocks().mail)
    await withTenant('acme', () => welcome('Ann <ann@example.com>'))
    const sent = mocks().mail.messages()
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({
      tenant: 'acme',
      envelope: { to: ['ann@example.com'] },
      subject: 'Welcome',
      html: '<h1>Hi Ann <ann@example.com></h1>',
      text: 'https://acme.example.test/start',
    })
    expect(sent[0]!.headers.from).toBe('Test <test@example.test>')
    expect(mocks().mail.messages('other')).toEqual([])
    expect(mocks().renderer.calls).toEqual([
      {
        args: ['# Hi Ann <ann@example.com>'],
        result: '<h1>Hi Ann <ann@example.com></h1>',
        tenant: 'acme',
      },
    ])
    await mocks().storage.put('a.txt', 'x')
    expect(getStorage()).toBe(mocks().storage)
  })

  it('the next test gets new, empty mocks', async () => {
    expect(seen).toHaveLength(1)
    expect(mocks().mail).not.toBe(seen[0])
    expect(getMail()).toBe(mocks().mail)
    expect(mocks().mail.messages()).toEqual([])
    expect(mocks().renderer.calls).toEqual([])
    expect(await mocks().storage.list()).toEqual([])
  })

  readMocks = mocks
})
let readMocks: (() => unknown) | undefined

describe('after a suite with mocks', () => {
  it("reading that suite's mocks is an error", () => {
    expect(() => readMocks?.()).toThrow(
      expect.objectContaining({ code: 'TENANTRY_TESTING_NO_TEST' }),
    )
  })

  it('the real resources are back, outside and inside tenants', async () => {
    expect(getMail()).toBe(real.mail)
    expect(getStorage()).toBe(real.storage)
    expect(await withTenant('acme', () => [getMail(), getRenderer()])).toEqual([
      real.mail,
      real.renderer,
    ])
  })

  it('a plain withOverrides mock is gone when its callback returns (also on throw)', async () => {
    const mail = fakeMailer()
    const renderer = spyRenderer()
    await withOverrides({ mail, renderer }, () =>
      withTenant('acme', () => welcome('bob@example.com')),
    )
    expect(mail.sentTo('BOB@example.com')).toHaveLength(1)
    expect(getMail()).toBe(real.mail)
    expect(getRenderer()).toBe(real.renderer)
    await expect(
      withOverrides({ mail }, async () => {
        throw new Error('x')
      }),
    ).rejects.toThrow('x')
    expect(getMail()).toBe(real.mail)
  })
})

describe('fakeMailer', () => {
  it('goes through nodemailer: recipients, custom from, tenant URLs, clear', async () => {
    const mail = fakeMailer({ from: 'wiki@acme.test', baseUrl: 'https://{tenant}.wiki.test' })
    await mail.send({
      to: ['a@x.test', { name: 'B', address: 'B@x.test' }],
      cc: 'C <c@x.test>, d@x.test',
      subject: 'Hi',
    })
    expect(mail.last()).toMatchObject({ tenant: undefined, from: 'wiki@acme.test' })
    expect(mail.last()!.envelope.to).toEqual(['a@x.test', 'B@x.test', 'c@x.test', 'd@x.test'])
    expect(mail.last()!.raw).toContain('Subject: Hi')
    expect(mail.sentTo('b@X.test')).toHaveLength(1)
    await withTenant('acme', () => mail.send({ to: 'e@x.test' }))
    expect(mail.messages('acme').map((m) => m.envelope.to)).toEqual([['e@x.test']])
    expect(await withTenant('acme', () => mail.tenantUrl('/pages/1'))).toBe(
      'https://acme.wiki.test/pages/1',
    )
    mail.clear()
    expect(mail.messages()).toEqual([])
    mail.close()
  })

  it('failWith makes send reject, recording nothing', async () => {
    const mail = fakeMailer({ failWith: new Error('SMTP down') })
    await expect(mail.send({ to: 'a@x.test' })).rejects.toThrow('SMTP down')
    expect(mail.messages()).toEqual([])
  })
})

describe('memoryStorage', () => {
  it('implements Storage: put, get, stream, list, stat, exists, delete', async () => {
    const s = memoryStorage()
    await s.put('b/two.txt', 'two')
    await s.put('a/one.bin', new Uint8Array([1, 2, 3]))
    await s.put('b/three.txt', Readable.from(['th', Buffer.from('ree')]))
    expect(await s.list()).toEqual(['a/one.bin', 'b/three.txt', 'b/two.txt'])
    expect(await s.list('b/')).toEqual(['b/three.txt', 'b/two.txt'])
    expect((await s.get('b/three.txt')).toString()).toBe('three')
    expect([...(await s.get('a/one.bin'))]).toEqual([1, 2, 3])
    const chunks: Buffer[] = []
    for await (const c of await s.getStream('b/two.txt')) chunks.push(c as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('two')
    expect((await s.stat('a/one.bin')).size).toBe(3)
    expect(await s.exists('a/one.bin')).toBe(true)
    expect(await s.delete('a/one.bin')).toBe(true)
    expect(await s.delete('a/one.bin')).toBe(false)
    expect(s.snapshot()).toEqual({ 'b/three.txt': 'three', 'b/two.txt': 'two' })
  })

  it('returns copies, and refuses what LocalStorage refuses', async () => {
    const s = new MemoryStorage()
    await s.put('k', 'abc')
    ;(await s.get('k')).fill(0)
    expect((await s.get('k')).toString()).toBe('abc')
    await expect(s.get('missing')).rejects.toSatisfy((e) =>
      isTenantryError(e, 'TENANTRY_STORAGE_NOT_FOUND'),
    )
    for (const bad of ['../x', '/etc/passwd', 'a/%2e%2e/b', 'a\\b'])
      await expect(s.put(bad, 'x')).rejects.toSatisfy((e) =>
        isTenantryError(e, 'TENANTRY_STORAGE_PATH'),
      )
  })
})

describe('spyRenderer', () => {
  it('defaults to returning its input and records calls', () => {
    const r = spyRenderer()
    expect(r.render('**x**')).toBe('**x**')
    expect(r.calls).toEqual([{ args: ['**x**'], result: '**x**', tenant: undefined }])
    r.clear()
    expect(r.calls).toEqual([])
  })
})

afterAll(() => {
  // Nothing of the mocks survived the file's tests.
  expect(getResource('mail')).toBe(real.mail)
})
