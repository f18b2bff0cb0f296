import { join } from 'node:path'
import { StoragePathError } from './errors.js'

/** Name prefix of in-flight temp files; reserved, never listed, refused as a key segment. */
export const TEMP_PREFIX = '.tenantry-tmp-'

const MAX_KEY_LENGTH = 1024
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const LONE_SURROGATE = /[\uD800-\uDFFF]/u
const ENCODED = /%[0-9a-fA-F]{2}/
const DRIVE = /^[A-Za-z]:/
const LOOK_ALIKE_TARGETS = ['/', '\\', '.', '%', ':'] as const
// Separator look-alikes that NFKC leaves alone (division slash, fraction slash, set minus...).
const SEPARATOR_LOOK_ALIKES = /[\u2044\u2215\u2216\u2571\u2572\u27cb\u27cd\u29f5\u29f8\u29f9]/
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true })

interface CheckOptions {
  /** A `list()` prefix: may be empty and may end with `/`. */
  prefix?: boolean
}

/**
 * Checks a storage key and returns its canonical form (Unicode NFC). Throws
 * {@link StoragePathError} for anything that could name a file outside the tenant root, now or
 * after some later layer decodes or normalises it.
 */
export function checkKey(key: unknown, options: CheckOptions = {}): string {
  if (typeof key !== 'string') throw new StoragePathError(key, 'a key must be a string')
  const prefix = options.prefix === true
  if (key === '') {
    if (prefix) return ''
    throw new StoragePathError(key, 'it is empty')
  }
  if (key.length > MAX_KEY_LENGTH)
    throw new StoragePathError(key, `it is longer than ${MAX_KEY_LENGTH} characters`)
  if (LONE_SURROGATE.test(key))
    throw new StoragePathError(key, 'it is not well-formed Unicode (a lone surrogate)')
  checkLayer(key, key, prefix, true)

  // Encoded forms: whatever a later layer (a URL, a proxy, an S3 gateway) decodes must be as
  // harmless as the key itself, however many times it is decoded.
  let layer = key
  for (let depth = 1; ENCODED.test(layer); depth++) {
    if (depth > 4) throw new StoragePathError(key, 'it is percent-encoded too many times')
    const decoded = percentDecode(layer)
    if (decoded === undefined)
      throw new StoragePathError(key, 'it holds percent-encoded bytes that are not valid UTF-8')
    if (count(decoded, '/') !== count(key, '/'))
      throw new StoragePathError(key, 'it holds a percent-encoded "/"')
    checkLayer(key, decoded, prefix, false)
    layer = decoded
  }

  // Look-alikes: compatibility normalisation turns e.g. "．．／" (full-width) or "‥" into
  // "../"; a key must not change meaning under it.
  if (SEPARATOR_LOOK_ALIKES.test(key))
    throw new StoragePathError(key, 'it holds a Unicode look-alike of "/" or "\\"')
  const compat = key.normalize('NFKC')
  if (compat !== key) {
    for (const ch of LOOK_ALIKE_TARGETS) {
      if (count(compat, ch) !== count(key, ch))
        throw new StoragePathError(key, `it holds a Unicode look-alike of "${ch}"`)
    }
  }
  return key.normalize('NFC')
}

function checkLayer(key: string, s: string, prefix: boolean, original: boolean): void {
  const what = original ? 'it' : 'its percent-decoded form'
  if (s.includes('\u0000')) throw new StoragePathError(key, `${what} contains a NUL byte`)
  if (CONTROL.test(s)) throw new StoragePathError(key, `${what} contains a control character`)
  if (s.includes('\\'))
    throw new StoragePathError(key, `${what} contains a backslash (use "/" between folders)`)
  if (s.startsWith('/') || DRIVE.test(s))
    throw new StoragePathError(key, `${what} is an absolute path`)
  const segments = s.split('/')
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!
    if (seg === '..' || seg === '.')
      throw new StoragePathError(key, `${what} has a "${seg}" segment`)
    if (seg === '') {
      if (prefix && i === segments.length - 1) continue
      throw new StoragePathError(
        key,
        `${what} has an empty segment (a leading, trailing or double "/")`,
      )
    }
    if (seg.startsWith(TEMP_PREFIX))
      throw new StoragePathError(key, `the "${TEMP_PREFIX}" name prefix is reserved for temp files`)
  }
}

function percentDecode(s: string): string | undefined {
  // Byte-wise, so overlong or broken UTF-8 (%c0%ae) is refused instead of silently replaced.
  const bytes: number[] = []
  for (let i = 0; i < s.length; ) {
    if (s[i] === '%' && ENCODED.test(s.slice(i, i + 3))) {
      bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16))
      i += 3
    } else {
      const cp = s.codePointAt(i)!
      bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'))
      i += cp > 0xffff ? 2 : 1
    }
  }
  try {
    return fatalUtf8.decode(Uint8Array.from(bytes))
  } catch {
    return undefined
  }
}

function count(s: string, ch: string): number {
  let n = 0
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1)) n++
  return n
}

/**
 * Checks a tenant name used as a folder name: one safe path segment, whatever naming rule the
 * tenancy uses (the GHSA-pmwx-rm49-xv39 class: a tenant called `..` or `%2e%2e`).
 */
export function checkTenantSegment(tenant: unknown): string {
  if (typeof tenant !== 'string' || tenant === '')
    throw new StoragePathError(tenant, 'a tenant name must be a non-empty string')
  const seg = checkKey(tenant)
  if (seg.includes('/')) throw new StoragePathError(tenant, 'a tenant name cannot contain "/"')
  if (seg.startsWith('.'))
    throw new StoragePathError(tenant, 'a tenant folder name cannot start with "."')
  return seg
}

/** The default folder of a tenant's files: `root/tenants/{tenant}/files`, beside its database. */
export function tenantFilesDir(root: string, tenant: string): string {
  return join(root, 'tenants', checkTenantSegment(tenant), 'files')
}
