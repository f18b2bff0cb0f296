import {
  link,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LocalStorage, StorageNotFoundError, StoragePathError } from '../src/index.js'

let tmp: string
let dir: string
let outside: string
let storage: LocalStorage

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tenantry-storage-'))
  dir = join(tmp, 'tenants', 'acme', 'files')
  outside = join(tmp, 'outside')
  await mkdir(outside)
  await writeFile(join(outside, 'secret.txt'), 'top secret')
  storage = new LocalStorage(dir, { fsync: false })
})

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true })
})

async function rawTree(d: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = prefix + e.name
    if (e.isDirectory()) out.push(...(await rawTree(join(d, e.name), `${p}/`)))
    else out.push(p)
  }
  return out.sort()
}

describe('LocalStorage basics', () => {
  it('puts, gets, streams, stats, lists and deletes files', async () => {
    await storage.put('notes/hello.txt', 'hello')
    await storage.put('notes/deep/bytes.bin', new Uint8Array([1, 2, 3]))
    await storage.put('top.txt', Readable.from(['str', 'eam']))

    expect((await storage.get('notes/hello.txt')).toString()).toBe('hello')
    expect([...(await storage.get('notes/deep/bytes.bin'))]).toEqual([1, 2, 3])
    expect(await text(await storage.getStream('top.txt'))).toBe('stream')
    expect(await readFile(join(dir, 'notes', 'hello.txt'), 'utf8')).toBe('hello')

    const s = await storage.stat('notes/hello.txt')
    expect(s.size).toBe(5)
    expect(s.modified).toBeInstanceOf(Date)

    expect(await storage.exists('notes/hello.txt')).toBe(true)
    expect(await storage.exists('notes/missing.txt')).toBe(false)
    expect(await storage.exists('notes')).toBe(false) // a folder is not a file

    expect(await storage.list()).toEqual(['notes/deep/bytes.bin', 'notes/hello.txt', 'top.txt'])
    expect(await storage.list('notes/')).toEqual(['notes/deep/bytes.bin', 'notes/hello.txt'])
    expect(await storage.list('notes/h')).toEqual(['notes/hello.txt'])
    expect(await storage.list('nothing/here/')).toEqual([])

    expect(await storage.delete('notes/deep/bytes.bin')).toBe(true)
    expect(await storage.delete('notes/deep/bytes.bin')).toBe(false)
    // the emptied folder is pruned, the non-empty one stays
    expect(await rawTree(dir)).toEqual(['notes/hello.txt', 'top.txt'])
  })

  it('reports missing files with StorageNotFoundError', async () => {
    for (const op of [
      () => storage.get('nope.txt'),
      () => storage.getStream('nope.txt'),
      () => storage.stat('nope/deeper.txt'),
    ]) {
      const error = await op().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StorageNotFoundError)
      expect((error as StorageNotFoundError).code).toBe('TENANTRY_STORAGE_NOT_FOUND')
    }
  })

  it('accepts ordinary names with dots, percents and non-ASCII letters', async () => {
    const keys = ['.hidden', 'a.b/c..d.txt', '50%.txt', 'report 100%25.txt', 'ünï/café.txt']
    for (const k of keys) await storage.put(k, k)
    for (const k of keys) expect((await storage.get(k)).toString()).toBe(k)
  })

  it('treats NFC and NFD spellings of a key as the same file', async () => {
    await storage.put('caf\u00e9.txt', 'composed')
    expect((await storage.get('cafe\u0301.txt')).toString()).toBe('composed')
    expect(await storage.list()).toEqual(['caf\u00e9.txt'])
  })

  it('refuses to turn a folder into a file or a file into a folder', async () => {
    await storage.put('a/b.txt', 'x')
    await expect(storage.put('a', 'y')).rejects.toMatchObject({ code: 'TENANTRY_STORAGE_PATH' })
    await expect(storage.put('a/b.txt/c', 'y')).rejects.toMatchObject({
      code: 'TENANTRY_STORAGE_PATH',
    })
    await expect(storage.get('a')).rejects.toBeInstanceOf(StoragePathError)
    expect((await storage.get('a/b.txt')).toString()).toBe('x')
  })
})

describe('atomic writes', () => {
  it('keeps the old content and removes the temp file when a write fails', async () => {
    await storage.put('doc.txt', 'version 1')
    async function* failing() {
      yield Buffer.from('partial ')
      throw new Error('upload aborted')
    }
    await expect(storage.put('doc.txt', failing())).rejects.toThrow('upload aborted')
    expect((await storage.get('doc.txt')).toString()).toBe('version 1')
    expect(await rawTree(dir)).toEqual(['doc.txt'])
  })

  it('never shows a mix of concurrent writes, and leaves no temp files', async () => {
    const big = (c: string) => c.repeat(256 * 1024)
    const contents = ['a', 'b', 'c', 'd', 'e'].map(big)
    const reads: Promise<Buffer>[] = []
    await storage.put('race.txt', contents[0]!)
    await Promise.all(
      contents.map((c) => {
        reads.push(storage.get('race.txt'))
        return storage.put('race.txt', c)
      }),
    )
    for (const b of [...(await Promise.all(reads)), await storage.get('race.txt')]) {
      expect(contents).toContain(b.toString())
    }
    expect(await rawTree(dir)).toEqual(['race.txt'])
  })

  it('does not list temp files of in-flight writes, and refuses their names as keys', async () => {
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, '.tenantry-tmp-123'), 'half')
    await storage.put('x.txt', 'x')
    expect(await storage.list()).toEqual(['x.txt'])
    await expect(storage.get('.tenantry-tmp-123')).rejects.toBeInstanceOf(StoragePathError)
  })
})

describe('no way out of the tenant root (GHSA-pmwx-rm49-xv39 class)', () => {
  const bad: [string, string][] = [
    ['../secret.txt', 'parent segment'],
    ['../../outside/secret.txt', 'parent segments'],
    ['a/../../outside/secret.txt', 'parent segment in the middle'],
    ['./a.txt', 'dot segment'],
    ['a/./b', 'inner dot segment'],
    ['..', 'bare parent'],
    ['/etc/passwd', 'absolute POSIX path'],
    ['C:/Windows/win.ini', 'drive letter'],
    ['c:secret', 'drive-relative'],
    ['..\\..\\outside\\secret.txt', 'backslashes'],
    ['a\\b', 'backslash in a name'],
    ['a\u0000.txt', 'NUL byte'],
    ['secret.txt\u0000.png', 'NUL truncation'],
    ['a\u0007b', 'control character'],
    ['', 'empty key'],
    ['a//b', 'empty segment'],
    ['a/', 'trailing slash'],
    ['%2e%2e%2fsecret.txt', 'percent-encoded ../'],
    ['%2E%2E/secret.txt', 'percent-encoded .. (upper case)'],
    ['%2e%2e', 'percent-encoded ..'],
    ['..%2fsecret.txt', 'encoded slash after dots'],
    ['a%2fb', 'encoded slash'],
    ['%5c..%5csecret', 'encoded backslash'],
    ['a%00.txt', 'encoded NUL'],
    ['%252e%252e%252fsecret.txt', 'double-encoded ../'],
    ['%25252e%25252e%25252f', 'triple-encoded ../'],
    ['%c0%ae%c0%ae/secret.txt', 'overlong UTF-8 dots'],
    ['\uff0e\uff0e\uff0fsecret.txt', 'full-width ../'],
    ['\u2025/secret.txt', 'two-dot leader'],
    ['a\u2215b', 'division slash look-alike'],
    ['\uff05\uff12\uff45', 'full-width percent'],
    ['bad\ud800.txt', 'lone surrogate'],
    ['.tenantry-tmp-abc', 'reserved temp prefix'],
  ]

  it.each(bad)('refuses %j (%s) in every operation', async (key) => {
    const ops = [
      () => storage.put(key, 'pwned'),
      () => storage.get(key),
      () => storage.getStream(key),
      () => storage.exists(key),
      () => storage.stat(key),
      () => storage.delete(key),
    ]
    for (const op of ops) {
      const error = await op().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(StoragePathError)
      expect((error as StoragePathError).code).toBe('TENANTRY_STORAGE_PATH')
      expect((error as StoragePathError).message).toMatch(/Refused storage path/)
    }
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
    expect(await rawTree(tmp)).toEqual(['outside/secret.txt'])
  })

  it('refuses non-string keys and traversal in list() prefixes', async () => {
    await expect(storage.get(42 as unknown as string)).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.list('../')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.list('/etc')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.list('%2e%2e/')).rejects.toBeInstanceOf(StoragePathError)
  })

  it('refuses a symlink inside the root that points outside', async () => {
    await mkdir(dir, { recursive: true })
    await symlink(join(outside, 'secret.txt'), join(dir, 'link.txt'))
    for (const op of [
      () => storage.get('link.txt'),
      () => storage.getStream('link.txt'),
      () => storage.stat('link.txt'),
      () => storage.exists('link.txt'),
      () => storage.delete('link.txt'),
    ]) {
      await expect(op()).rejects.toMatchObject({ code: 'TENANTRY_STORAGE_PATH' })
    }
    // Writing to the key replaces the link itself; the target outside is untouched.
    await storage.put('link.txt', 'mine')
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
    expect((await storage.get('link.txt')).toString()).toBe('mine')
    expect(await storage.list()).toEqual(['link.txt'])
  })

  it('refuses a symlinked folder that points outside, for reads and writes', async () => {
    await mkdir(dir, { recursive: true })
    await symlink(outside, join(dir, 'evil'))
    await expect(storage.get('evil/secret.txt')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.exists('evil/secret.txt')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.delete('evil/secret.txt')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.put('evil/new.txt', 'x')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.put('evil/sub/new.txt', 'x')).rejects.toBeInstanceOf(StoragePathError)
    expect(await storage.list()).toEqual([])
    expect(await storage.list('evil/')).toEqual([])
    expect(await rawTree(outside)).toEqual(['secret.txt'])
    // A prefix reaching into a real folder behind the link lists nothing either.
    await mkdir(join(outside, 'sub'))
    await writeFile(join(outside, 'sub', 'other.txt'), 'x')
    expect(await storage.list('evil/sub/')).toEqual([])
    expect(await storage.list('evil/sub/o')).toEqual([])
  })

  it('refuses a symlink planted after the file was written and checked', async () => {
    await storage.put('docs/secret.txt', 'tenant data')
    expect(await storage.exists('docs/secret.txt')).toBe(true)
    // An attacker with a shell (or another bug) swaps the folder for a link to the outside.
    await rename(join(dir, 'docs'), join(dir, 'docs-old'))
    await symlink(outside, join(dir, 'docs'))
    await expect(storage.get('docs/secret.txt')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.getStream('docs/secret.txt')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.stat('docs/secret.txt')).rejects.toBeInstanceOf(StoragePathError)
    await expect(storage.put('docs/secret.txt', 'x')).rejects.toBeInstanceOf(StoragePathError)
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('top secret')
  })

  it('refuses a hard link to a file outside the root', async () => {
    await mkdir(dir, { recursive: true })
    await link(join(outside, 'secret.txt'), join(dir, 'hard.txt'))
    await expect(storage.get('hard.txt')).rejects.toMatchObject({
      code: 'TENANTRY_STORAGE_PATH',
      reason: expect.stringMatching(/hard link/),
    })
  })

  it('still works when the root itself is reached through a symlink', async () => {
    await mkdir(join(tmp, 'real-root'))
    await symlink(join(tmp, 'real-root'), join(tmp, 'linked-root'))
    const s = new LocalStorage(join(tmp, 'linked-root', 'files'), { fsync: false })
    await s.put('a/b.txt', 'ok')
    expect((await s.get('a/b.txt')).toString()).toBe('ok')
    expect(await s.list()).toEqual(['a/b.txt'])
  })
})
