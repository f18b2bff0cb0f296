import { createHash } from 'node:crypto'
import { lstatSync, type Stats } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { TenancyConfigError } from '@tenantry/context'
import { TenantPathError } from './errors.js'

/** Spreads tenants over hash-prefix folders so no directory holds tens of thousands of entries. */
export interface BucketingOptions {
  /** Hex characters of the name's SHA-256 used as the folder name; default 2 (256 buckets). */
  chars?: number
}

/** The default path template, relative to `root`. */
export const DEFAULT_PATH = 'tenants/{tenant}/db.sqlite3'
/** The default path template when bucketing is on. */
export const DEFAULT_BUCKETED_PATH = 'tenants/{bucket}/{tenant}/db.sqlite3'

/** Most tenant paths a layout remembers before it starts over. */
const FILES_MAX = 10_000

const PLACEHOLDER = /\{([a-z]+)\}/g

/**
 * Where each tenant's file lives: a path template under `root` with `{tenant}` and optionally
 * `{bucket}`. Names must be validated before they reach it; it checks containment again anyway.
 */
export class Layout {
  readonly root: string
  readonly template: string
  private readonly segments: string[]
  private readonly bucketChars: number
  /** Index of the deepest directory segment that contains `{tenant}` (the tenant's own folder). */
  private readonly ownDir: number

  constructor(root: string, template?: string, bucketing?: boolean | BucketingOptions) {
    this.root = resolve(root)
    const chars = typeof bucketing === 'object' ? (bucketing.chars ?? 2) : 2
    if (!Number.isInteger(chars) || chars < 1 || chars > 8)
      throw new TenancyConfigError('bucketing.chars must be a whole number from 1 to 8.')
    const t = template ?? (bucketing ? DEFAULT_BUCKETED_PATH : DEFAULT_PATH)
    const segments = t.split('/')
    const names = [...t.matchAll(PLACEHOLDER)].map((m) => m[1])
    const bad = (why: string) => new TenancyConfigError(`Path template "${t}": ${why}.`)
    if (isAbsolute(t) || t.includes('\\')) throw bad('it must be relative to root and use "/"')
    if (segments.some((s) => s === '' || s === '.' || s === '..'))
      throw bad('it has an empty, "." or ".." segment')
    if (names.filter((n) => n === 'tenant').length !== 1)
      throw bad('it must contain {tenant} exactly once')
    if (names.some((n) => n !== 'tenant' && n !== 'bucket'))
      throw bad('only {tenant} and {bucket} are known')
    if (names.filter((n) => n === 'bucket').length > 1) throw bad('{bucket} may appear once')
    if (names.includes('bucket') && bucketing === false)
      throw bad('it uses {bucket} but bucketing is off')
    if (bucketing && !names.includes('bucket')) throw bad('bucketing is on but {bucket} is missing')
    // A literal ending keeps the tenant's file apart from its -wal/.lock/.creating siblings and
    // from every other tenant's file (tenant "a.x" must not be the temp file of tenant "a").
    if (/\}$/.test(segments[segments.length - 1]!))
      throw bad('the file name must end with a literal extension such as ".sqlite3"')
    this.template = t
    this.segments = segments
    this.bucketChars = chars
    let own = -1
    for (let i = 0; i < segments.length - 1; i++) if (segments[i]!.includes('{tenant}')) own = i
    this.ownDir = own
  }

  /** The short hash prefix of a tenant name. */
  bucket(tenant: string): string {
    return createHash('sha256').update(tenant).digest('hex').slice(0, this.bucketChars)
  }

  /** Validated tenant name → its file, so a warm tenant's path is a lookup (bounded). */
  private readonly files = new Map<string, string>()

  /** The tenant's database file. `tenant` must already be validated; escaping root throws. */
  file(tenant: string): string {
    const known = this.files.get(tenant)
    if (known !== undefined) return known
    const file = this.compute(tenant)
    if (this.files.size >= FILES_MAX) this.files.clear()
    this.files.set(tenant, file)
    return file
  }

  /** {@link file} without the memo: the template, the bucket hash and the containment check. */
  private compute(tenant: string): string {
    const bucket = this.template.includes('{bucket}') ? this.bucket(tenant) : ''
    const parts = this.segments.map((s) =>
      s.replace(PLACEHOLDER, (_, n: string) => (n === 'tenant' ? tenant : bucket)),
    )
    for (const p of parts)
      if (p === '.' || p === '..' || p.includes('/') || p.includes('\\') || p.includes('\0'))
        throw new TenantPathError(tenant, 'it would form a path segment of its own')
    const abs = join(this.root, ...parts)
    const rel = relative(this.root, abs)
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel))
      throw new TenantPathError(tenant, `it resolves outside ${this.root}`)
    return abs
  }

  /**
   * Refuses a tenant whose folder, or any folder between `root` and it, is a symbolic link
   * (`tenants/evil -> tenants/victim` must not reach victim's data), or whose database path is
   * a link itself. Folders that do not exist yet are fine: nothing there can be followed.
   * Returns the file. A few `lstat` calls: for opening, creating and destroying, not per query.
   */
  checkedFile(tenant: string): string {
    const file = this.file(tenant)
    const rel = relative(this.root, file).split(/[\\/]/)
    let dir = this.root
    for (let i = 0; i < rel.length; i++) {
      dir = join(dir, rel[i]!)
      const s = lstatQuiet(dir)
      if (s === undefined) return file
      if (s.isSymbolicLink())
        throw new TenantPathError(
          tenant,
          `${dir} is a symbolic link; a tenant's folder and the folders above it must be real folders (remove the link, or run \`tenantry doctor\`)`,
        )
    }
    return file
  }

  /** True when the tenant's database is a regular file reached through real folders only. */
  isTenantFile(tenant: string): boolean {
    const file = this.checkedFile(tenant)
    return lstatQuiet(file)?.isFile() === true
  }

  /**
   * The tenant whose database file `file` is (the inverse of {@link file}), or undefined when
   * the path is no tenant file of this layout. The name is not validated here.
   */
  tenantOf(file: string): string | undefined {
    const rel = relative(this.root, file).split(/[\\/]/)
    if (rel.length !== this.segments.length) return undefined
    let tenant: string | undefined
    for (let i = 0; i < rel.length; i++) {
      const seg = this.segments[i]!
      if (!seg.includes('{')) {
        if (rel[i] !== seg) return undefined
        continue
      }
      const m = this.segmentPattern(seg).exec(rel[i]!)
      if (m === null) return undefined
      tenant = m.groups?.tenant ?? tenant
    }
    if (tenant === undefined) return undefined
    try {
      return this.file(tenant) === file ? tenant : undefined
    } catch {
      return undefined
    }
  }

  /** The tenant whose own folder `dir` is (see {@link ownFolder}), or undefined. */
  tenantOfFolder(dir: string): string | undefined {
    if (this.ownDir < 0) return undefined
    const rest = this.segments.slice(this.ownDir + 1)
    if (rest.some((s) => s.includes('{'))) return undefined
    if (relative(this.root, dir).split(/[\\/]/).length !== this.ownDir + 1) return undefined
    return this.tenantOf(join(dir, ...rest))
  }

  /** The folder that belongs to the tenant alone (removed when empty), if the template has one. */
  ownFolder(tenant: string): string | undefined {
    if (this.ownDir < 0) return undefined
    let dir = this.file(tenant)
    for (let i = this.segments.length - 1; i > this.ownDir; i--) dir = join(dir, '..')
    return dir
  }

  /**
   * Every tenant whose final database file exists, sorted. Files in the middle of creation have
   * other names, so they never match. `validate` drops names the naming rule refuses.
   */
  async list(validate: (name: string) => unknown): Promise<string[]> {
    const found = new Set<string>()
    const walk = async (dir: string, i: number, tenant: string | undefined): Promise<void> => {
      const seg = this.segments[i]!
      const last = i === this.segments.length - 1
      if (!seg.includes('{')) {
        // lstat, not stat: a symlink is no folder and no tenant file (exists() agrees).
        const next = join(dir, seg)
        const s = await lstat(next).catch(() => undefined)
        if (last) {
          if (tenant !== undefined && s?.isFile()) this.accept(found, tenant, next, validate)
        } else if (s?.isDirectory()) await walk(next, i + 1, tenant)
        return
      }
      const re = this.segmentPattern(seg)
      let entries: import('node:fs').Dirent[]
      try {
        entries = await readdir(dir, { withFileTypes: true })
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
        throw error
      }
      await Promise.all(
        entries.map(async (e) => {
          const m = re.exec(e.name)
          if (m === null) return
          const t = m.groups?.tenant ?? tenant
          const next = join(dir, e.name)
          if (last) {
            if (e.isFile() && t !== undefined) this.accept(found, t, next, validate)
          } else if (e.isDirectory()) await walk(next, i + 1, t)
        }),
      )
    }
    await walk(this.root, 0, undefined)
    return [...found].sort()
  }

  private accept(
    found: Set<string>,
    tenant: string,
    file: string,
    validate: (name: string) => unknown,
  ): void {
    try {
      validate(tenant)
      if (this.file(tenant) === file) found.add(tenant)
    } catch {
      // Not a tenant of this store (a stray file, a name the rule refuses): not listed.
    }
  }

  private segmentPattern(seg: string): RegExp {
    let src = ''
    let last = 0
    for (const m of seg.matchAll(PLACEHOLDER)) {
      src += escapeRegExp(seg.slice(last, m.index))
      src += m[1] === 'tenant' ? '(?<tenant>.+)' : `[0-9a-f]{${this.bucketChars}}`
      last = m.index + m[0].length
    }
    return new RegExp(`^${src}${escapeRegExp(seg.slice(last))}$`)
  }
}

/** Every file SQLite or this package may leave beside a tenant's database. */
export function siblings(file: string): string[] {
  const tmp = tempFile(file)
  // The tombstone last: a destroy that dies midway leaves the tenant hidden, due for purging.
  return [
    file,
    ...sqliteSidecars(file),
    tmp,
    ...sqliteSidecars(tmp),
    lockFile(file),
    `${file}.deleting`,
    `${file}.deleted`,
  ]
}

/** The files SQLite keeps next to a database. */
export function sqliteSidecars(file: string): string[] {
  return [`${file}-wal`, `${file}-shm`, `${file}-journal`]
}

/** Where a tenant is built before the atomic rename makes it visible. */
export function tempFile(file: string): string {
  return `${file}.creating`
}

/** The tenant's create/migrate/destroy lock. */
export function lockFile(file: string): string {
  return `${file}.lock`
}

function lstatQuiet(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw error
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
