import { Readable } from 'node:stream'
import {
  tenancy as defaultTenancy,
  type ResourceOverrides,
  currentTenant as sharedCurrentTenant,
  type Tenancy,
  TenantryError,
} from '@tenantry/context'
import { Outbox, type OutboxMessage, type OutboxSentInfo, TenantMailer } from '@tenantry/mail'
import {
  checkKey,
  type Storage,
  type StorageData,
  StorageNotFoundError,
  type StorageStat,
} from '@tenantry/storage'
import { aroundEach } from 'vitest'

declare module '@tenantry/context' {
  interface TenantryErrorCodes {
    TENANTRY_TESTING_NO_TEST: true
  }
}

// --- mail ------------------------------------------------------------------------------------

/** What {@link FakeMailer.send} accepts: `TenantMailer.send`'s message (nodemailer's options). */
export type FakeMailMessage = Parameters<TenantMailer['send']>[0]

/** Options of {@link fakeMailer}. */
export interface FakeMailerOptions {
  /** Default sender; default `"Test" <test@example.test>`. */
  from?: string
  /** Template of `tenantUrl`; default `https://{tenant}.example.test`. */
  baseUrl?: string
  /** Make `send` reject with this error (to test failure paths); nothing is recorded. */
  failWith?: Error
  /** The tenancy whose current tenant is recorded; default: the shared default tenancy. */
  tenancy?: Tenancy
}

/**
 * A mailer for tests with every member of `TenantMailer` (so it is a valid `mail` override
 * when `Resources.mail` is `TenantMailer`). Messages go through nodemailer's real pipeline
 * into an `@tenantry/mail` {@link Outbox} instead of SMTP, filed under the tenant that was
 * current at `send` — one fake serves every tenant a test enters; `tenant`, `settings` and
 * `transporter` are those of the current tenant's mailer. Install it with
 * `withOverrides({ mail: fake }, …)` or {@link useOverrides}.
 */
export class FakeMailer implements Pick<TenantMailer, keyof TenantMailer> {
  /** The outbox every message lands in (`messages(tenant?)`, `last(tenant?)`, `clear()`). */
  readonly outbox: Outbox = new Outbox()
  private readonly options: FakeMailerOptions
  private readonly tenancy: Tenancy
  private readonly mailers = new Map<string | undefined, TenantMailer>()

  constructor(options: FakeMailerOptions = {}) {
    this.options = options
    this.tenancy = options.tenancy ?? defaultTenancy
  }

  /** Sends into the outbox as the current tenant's mailer would; resolves nodemailer's info. */
  async send(message: FakeMailMessage): Promise<OutboxSentInfo> {
    if (this.options.failWith !== undefined) throw this.options.failWith
    return (await this.mailer().send(message)) as OutboxSentInfo
  }

  /** The current tenant (`undefined` outside tenants), as a tenant's `TenantMailer` has. */
  get tenant(): string | undefined {
    return this.tenancy.currentTenant()
  }

  /** The current tenant's mail settings (`from`, `baseUrl`). */
  get settings(): TenantMailer['settings'] {
    return this.mailer().settings
  }

  /** The current tenant's nodemailer transporter (delivering into {@link outbox}). */
  get transporter(): TenantMailer['transporter'] {
    return this.mailer().transporter
  }

  /** An absolute link into the current tenant's site, from `baseUrl`. */
  tenantUrl(path = '/'): string {
    return this.mailer().tenantUrl(path)
  }

  /** Messages in sending order: all of them, or those sent inside `tenant`. */
  messages(tenant?: string): OutboxMessage[] {
    return this.outbox.messages(tenant)
  }

  /** The latest message (of one tenant), or `undefined`. */
  last(tenant?: string): OutboxMessage | undefined {
    return this.outbox.last(tenant)
  }

  /** Messages whose envelope includes `address` (to, cc or bcc; case-insensitive). */
  sentTo(address: string): OutboxMessage[] {
    const a = address.toLowerCase()
    return this.outbox.messages().filter((m) => m.envelope.to.some((t) => t.toLowerCase() === a))
  }

  /** Forgets every message. */
  clear(): void {
    this.outbox.clear()
  }

  /** Closes the per-tenant mailers it made. */
  close(): void {
    for (const m of this.mailers.values()) m.close()
    this.mailers.clear()
  }

  private mailer(): TenantMailer {
    const tenant = this.tenancy.currentTenant()
    let mailer = this.mailers.get(tenant)
    if (mailer === undefined) {
      mailer = new TenantMailer(
        tenant,
        {
          from: this.options.from ?? '"Test" <test@example.test>',
          baseUrl: this.options.baseUrl ?? 'https://{tenant}.example.test',
        },
        this.outbox.transport(tenant),
      )
      this.mailers.set(tenant, mailer)
    }
    return mailer
  }
}

/** A new {@link FakeMailer}; use it as the `mail` override. */
export function fakeMailer(options?: FakeMailerOptions): FakeMailer {
  return new FakeMailer(options)
}

// --- storage ---------------------------------------------------------------------------------

interface MemoryFile {
  data: Buffer
  modified: Date
}

/**
 * `@tenantry/storage`'s {@link Storage} in memory, with the same key rules (`checkKey`): a
 * key that `LocalStorage` would refuse is refused here too.
 */
export class MemoryStorage implements Storage {
  private readonly files = new Map<string, MemoryFile>()

  async put(key: string, data: StorageData): Promise<void> {
    const k = checkKey(key)
    this.files.set(k, { data: await collect(data), modified: new Date() })
  }

  async get(key: string): Promise<Buffer> {
    return Buffer.from(this.file(key).data)
  }

  async getStream(key: string): Promise<Readable> {
    return Readable.from([Buffer.from(this.file(key).data)])
  }

  async delete(key: string): Promise<boolean> {
    return this.files.delete(checkKey(key))
  }

  async list(prefix = ''): Promise<string[]> {
    const p = checkKey(prefix, { prefix: true })
    return [...this.files.keys()].filter((k) => k.startsWith(p)).sort()
  }

  async exists(key: string): Promise<boolean> {
    return this.files.has(checkKey(key))
  }

  async stat(key: string): Promise<StorageStat> {
    const f = this.file(key)
    return { size: f.data.length, modified: f.modified }
  }

  /** Every stored key and its content as UTF-8 text (for assertions). */
  snapshot(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const k of [...this.files.keys()].sort()) out[k] = this.files.get(k)!.data.toString('utf8')
    return out
  }

  private file(key: string): MemoryFile {
    const k = checkKey(key)
    const f = this.files.get(k)
    if (f === undefined) throw new StorageNotFoundError(k)
    return f
  }
}

/** A new, empty {@link MemoryStorage}; use it as the `storage` override. */
export function memoryStorage(): MemoryStorage {
  return new MemoryStorage()
}

async function collect(data: StorageData): Promise<Buffer> {
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (data instanceof Uint8Array) return Buffer.from(data)
  const chunks: Buffer[] = []
  for await (const chunk of data as AsyncIterable<Uint8Array | string>)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk))
  return Buffer.concat(chunks)
}

// --- renderer --------------------------------------------------------------------------------

/** One call recorded by a {@link SpyRenderer}. */
export interface RenderCall<A extends unknown[], R> {
  /** The arguments given to `render`. */
  args: A
  /** What `render` returned. */
  result: R
  /** The tenant current at the call. */
  tenant: string | undefined
}

/**
 * A renderer that records every call of `render` (arguments, result, tenant) and delegates to
 * an implementation (default: returns its first argument unchanged).
 */
export class SpyRenderer<A extends unknown[] = [source: string], R = string> {
  /** Calls in order. */
  readonly calls: RenderCall<A, R>[] = []
  private readonly impl: (...args: A) => R

  constructor(impl?: (...args: A) => R) {
    this.impl = impl ?? ((...args: A) => args[0] as R)
  }

  /** Renders through the implementation and records the call. */
  render(...args: A): R {
    const result = this.impl(...args)
    this.calls.push({ args, result, tenant: sharedCurrentTenant() })
    return result
  }

  /** Forgets every call. */
  clear(): void {
    this.calls.length = 0
  }
}

/** A new {@link SpyRenderer}; use it as the `renderer` override. */
export function spyRenderer<A extends unknown[] = [source: string], R = string>(
  impl?: (...args: A) => R,
): SpyRenderer<A, R> {
  return new SpyRenderer<A, R>(impl)
}

// --- installing ------------------------------------------------------------------------------

/**
 * Installs fresh mocks around each test of the current file or `describe`: `make()` runs
 * before every test, its result is applied with `withOverrides` around the test (and its
 * hooks), and is gone afterwards. The returned getter gives the current test's mocks.
 *
 * ```ts
 * const mocks = useOverrides(() => ({ mail: fakeMailer(), storage: memoryStorage() }))
 * test('sends', async () => { await signUp(); expect(mocks().mail.outbox).toHaveLength(1) })
 * ```
 */
export function useOverrides<O extends ResourceOverrides>(
  make: () => O,
  options: { tenancy?: Tenancy } = {},
): () => O {
  const tenancy = options.tenancy ?? defaultTenancy
  let current: O | undefined
  aroundEach(async (runTest) => {
    current = make()
    try {
      await tenancy.withOverrides(current, () => runTest())
    } finally {
      current = undefined
    }
  })
  return () => {
    if (current === undefined)
      throw new TenantryError(
        'TENANTRY_TESTING_NO_TEST',
        'useOverrides(): the mocks exist only while a test of this suite runs; read them inside the test body or its hooks.',
      )
    return current
  }
}
