import { randomUUID } from 'node:crypto'
import { constants, type Stats } from 'node:fs'
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { noop } from '@tenantry/context/internal'
import { StorageNotFoundError, StoragePathError } from './errors.js'
import { checkKey, TEMP_PREFIX } from './paths.js'
import type { Storage, StorageData, StorageStat } from './types.js'

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL } = constants
// O_NOFOLLOW: opening a symlink fails with ELOOP instead of following it. Absent on Windows.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0
const PROC_FD = process.platform === 'linux' ? '/proc/self/fd/' : undefined

/** Options of {@link LocalStorage}. */
export interface LocalStorageOptions {
  /** `fsync` each file before it is renamed into place (durable across power loss); default true. */
  fsync?: boolean
  /** Mode of new files; default 0o644 (minus the umask). */
  fileMode?: number
  /**
   * A trusted folder that contains `dir` (the data root). Every folder from it down to `dir`
   * must be a real folder, not a symbolic link: a planted `tenants/evil -> tenants/victim`
   * is refused instead of serving victim's files.
   */
  within?: string
}

/**
 * {@link Storage} on the local disk under one folder (one tenant's files). Writes are atomic
 * (temp file + rename). Every access re-checks the key, opens without following symlinks and
 * then verifies the *opened* file's real path, so a symlink planted after an earlier check
 * still cannot lead outside the folder.
 */
export class LocalStorage implements Storage {
  /** The folder the files live in, as given. */
  readonly dir: string
  private readonly fsync: boolean
  private readonly fileMode: number
  private readonly within: string | undefined
  private realDir: Promise<string> | undefined

  constructor(dir: string, options: LocalStorageOptions = {}) {
    this.dir = dir
    this.fsync = options.fsync ?? true
    this.fileMode = options.fileMode ?? 0o644
    this.within = options.within
  }

  async put(key: string, data: StorageData): Promise<void> {
    const k = checkKey(key)
    const base = await this.base()
    const segments = k.split('/')
    const parent = await this.makeParents(k, base, segments.slice(0, -1))
    const target = join(parent, segments.at(-1)!)
    const temp = join(parent, `${TEMP_PREFIX}${randomUUID()}`)
    let fh: FileHandle | undefined
    try {
      fh = await open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, this.fileMode)
      await verifyOpened(k, fh, temp)
      await fh.writeFile(data as Parameters<FileHandle['writeFile']>[0])
      if (this.fsync) await fh.sync()
      await fh.close()
      fh = undefined
      // rename() replaces the directory entry itself: a symlink at the target is replaced,
      // never followed.
      await rename(temp, target)
    } catch (error) {
      await fh?.close().catch(noop)
      await rm(temp, { force: true }).catch(noop)
      throw mapError(k, error)
    }
  }

  async get(key: string): Promise<Buffer> {
    const k = checkKey(key)
    const fh = await this.openForRead(k)
    try {
      return await fh.readFile()
    } finally {
      await fh.close()
    }
  }

  async getStream(key: string): Promise<Readable> {
    const k = checkKey(key)
    const fh = await this.openForRead(k)
    // The stream owns the handle now and closes it at the end or on destroy().
    return fh.createReadStream()
  }

  async exists(key: string): Promise<boolean> {
    const k = checkKey(key)
    const full = await this.pathOf(k)
    let fh: FileHandle
    try {
      fh = await open(full, O_RDONLY | O_NOFOLLOW)
    } catch (error) {
      const mapped = mapError(k, error)
      if (mapped instanceof StorageNotFoundError) return false
      throw mapped
    }
    try {
      return (await verifyOpened(k, fh, full)).isFile()
    } finally {
      await fh.close()
    }
  }

  async stat(key: string): Promise<StorageStat> {
    const k = checkKey(key)
    const fh = await this.openForRead(k)
    try {
      const s = await fh.stat()
      return { size: s.size, modified: s.mtime }
    } finally {
      await fh.close()
    }
  }

  async delete(key: string): Promise<boolean> {
    const k = checkKey(key)
    const base = await this.base()
    const full = join(base, ...k.split('/'))
    let s: Stats
    try {
      s = await lstat(full)
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return false
      throw error
    }
    if (s.isSymbolicLink()) throw new StoragePathError(k, 'it is a symbolic link')
    if (!s.isFile()) return false
    const parent = dirname(full)
    if ((await realpath(parent)) !== parent)
      throw new StoragePathError(k, 'a folder on its way is a symbolic link')
    try {
      await unlink(full)
    } catch (error) {
      if (isCode(error, 'ENOENT')) return false
      throw error
    }
    await pruneEmpty(base, parent)
    return true
  }

  async list(prefix = ''): Promise<string[]> {
    const p = checkKey(prefix, { prefix: true })
    const base = await this.base()
    const slash = p.lastIndexOf('/')
    const start = slash === -1 ? base : join(base, ...p.slice(0, slash).split('/'))
    // walk() skips symlinks it meets, but lstat(start) follows links before its last segment.
    if (start !== base && (await realpath(start).catch(() => undefined)) !== start) return []
    const keys: string[] = []
    await walk(base, start, keys)
    return keys.filter((k) => k.startsWith(p)).sort()
  }

  /** The folder's real path; created on first use. */
  private base(): Promise<string> {
    this.realDir ??= mkdir(this.dir, { recursive: true })
      .then(() => realpath(this.dir))
      .then((real) => this.checkWithin(real))
      .catch((error: unknown) => {
        this.realDir = undefined
        throw error
      })
    return this.realDir
  }

  /** Refuses a folder reached through a symlink below `within` (see {@link LocalStorageOptions.within}). */
  private async checkWithin(real: string): Promise<string> {
    if (this.within === undefined) return real
    const rel = relative(this.within, this.dir)
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new StoragePathError(this.dir, `the folder is outside ${this.within}`)
    const expected = join(await realpath(this.within), rel)
    if (real !== expected)
      throw new StoragePathError(
        this.dir,
        'a folder on its way is a symbolic link (it leads elsewhere); remove the link',
      )
    return real
  }

  /** Where a checked key lives on disk (under the tenant's real folder). */
  private async pathOf(k: string): Promise<string> {
    return join(await this.base(), ...k.split('/'))
  }

  private async openForRead(k: string): Promise<FileHandle> {
    const full = await this.pathOf(k)
    let fh: FileHandle
    try {
      fh = await open(full, O_RDONLY | O_NOFOLLOW)
    } catch (error) {
      throw mapError(k, error)
    }
    try {
      const s = await verifyOpened(k, fh, full)
      if (s.isDirectory())
        throw new StoragePathError(k, 'it is a folder (it holds other keys), not a file')
      return fh
    } catch (error) {
      await fh.close().catch(noop)
      throw error
    }
  }

  /** Creates the parent folders one by one, refusing symlinks and files on the way. */
  private async makeParents(k: string, base: string, segments: string[]): Promise<string> {
    let dir = base
    await mkdir(base, { recursive: true }) // the tenant folder may have been destroyed meanwhile
    for (const seg of segments) {
      dir = join(dir, seg)
      try {
        await mkdir(dir)
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw mapError(k, error)
        const s = await lstat(dir)
        if (s.isSymbolicLink())
          throw new StoragePathError(k, 'a folder on its way is a symbolic link')
        if (!s.isDirectory()) throw new StoragePathError(k, 'a folder on its way is a file')
      }
    }
    return dir
  }
}

/**
 * Verifies that an open handle is the file at `expected` (a lexical path under the real base):
 * no symlink anywhere on the way, even one swapped in after an earlier check, and not a hard
 * link to a file elsewhere. Returns the handle's stats.
 */
async function verifyOpened(k: string, fh: FileHandle, expected: string): Promise<Stats> {
  const s = await fh.stat()
  let real: string | undefined
  if (PROC_FD !== undefined) {
    try {
      real = await readlink(PROC_FD + fh.fd)
    } catch {
      real = undefined
    }
  }
  if (real === undefined) {
    // Without /proc: the path's real location must be this very inode.
    try {
      real = await realpath(expected)
      const again = await stat(real)
      if (again.dev !== s.dev || again.ino !== s.ino) real = undefined
    } catch {
      real = undefined
    }
  }
  if (real !== expected)
    throw new StoragePathError(k, 'a symbolic link on its way leads elsewhere (or the file moved)')
  if (s.isFile() && s.nlink > 1)
    throw new StoragePathError(k, 'the file has several hard links, so it may live outside')
  return s
}

async function walk(base: string, dir: string, out: string[]): Promise<void> {
  let entries: import('node:fs').Dirent[]
  try {
    const s = await lstat(dir)
    if (!s.isDirectory()) return // also skips symlinked folders
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    if (isCode(error, 'ENOENT', 'ENOTDIR')) return
    throw error
  }
  for (const e of entries) {
    if (e.name.startsWith(TEMP_PREFIX)) continue
    const full = join(dir, e.name)
    if (e.isDirectory()) await walk(base, full, out)
    else if (e.isFile()) out.push(relative(base, full).split(sep).join('/'))
    // Symlinks, sockets and the like are not keys.
  }
}

async function pruneEmpty(base: string, dir: string): Promise<void> {
  while (dir !== base && dir.startsWith(base + sep)) {
    try {
      await rmdir(dir)
    } catch {
      return // not empty, or gone: either way, stop
    }
    dir = dirname(dir)
  }
}

function mapError(k: string, error: unknown): unknown {
  if (error instanceof StoragePathError || error instanceof StorageNotFoundError) return error
  if (isCode(error, 'ENOENT')) return new StorageNotFoundError(k, { cause: error })
  if (isCode(error, 'ELOOP')) return new StoragePathError(k, 'it is a symbolic link')
  if (isCode(error, 'ENOTDIR')) return new StoragePathError(k, 'a folder on its way is a file')
  if (isCode(error, 'EISDIR', 'ENOTEMPTY', 'EEXIST'))
    return new StoragePathError(k, 'it is a folder (it holds other keys), not a file')
  return error
}

function isCode(error: unknown, ...codes: string[]): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && codes.includes(code)
}
