import { createInterface } from 'node:readline/promises'
import type { TenantInfo } from '@tenantry/kysely'
import type { Command } from 'commander'
import type { CliIO } from '../cli.js'
import { CliError, EXIT } from '../errors.js'
import { type CommandContext, op, plural, unknownTenant } from './shared.js'
import { duration, formatDeleted, listDeleted } from './soft-delete.js'

/** `tenantry list`, `create`, `destroy` and `info`. */
export function registerTenantCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx
  const out = (s: string) => io.stdout.write(s)

  program
    .command('list')
    .description('list the tenants, one per line')
    .option('--json', 'print a JSON array')
    .option('--deleted', 'list the soft-deleted tenants and when each is purged')
    .action(async (opts: { json?: boolean; deleted?: boolean }) => {
      if (opts.deleted) {
        const deleted = await listDeleted(await ctx.store())
        if (opts.json) out(`${JSON.stringify(deleted)}\n`)
        else if (deleted.length === 0) io.stderr.write('No soft-deleted tenants.\n')
        else out(deleted.map((d) => `${formatDeleted(d)}\n`).join(''))
        return
      }
      const tenants = await (await ctx.store()).list()
      if (opts.json) out(`${JSON.stringify(tenants)}\n`)
      else if (tenants.length === 0) io.stderr.write('No tenants.\n')
      else out(tenants.map((t) => `${t}\n`).join(''))
    })

  program
    .command('create')
    .description('create a tenant and apply every migration')
    .argument('<name>', 'tenant name')
    .option('--if-not-exists', 'succeed quietly when the tenant already exists')
    .option('--json', 'print the new tenant as JSON')
    .action(async (name: string, opts: { ifNotExists?: boolean; json?: boolean }) => {
      const store = await ctx.store()
      const existed = opts.ifNotExists === true && (await store.exists(name))
      await store.createTenant(name, { ifNotExists: opts.ifNotExists })
      const info = await store.tenantInfo(name)
      if (opts.json) out(`${JSON.stringify(info)}\n`)
      else if (existed) out(`Tenant "${name}" already exists at ${info.location}.\n`)
      else
        out(
          `Created tenant "${name}" at ${info.location} (${plural(info.migrations.length, 'migration')} applied).\n`,
        )
    })

  program
    .command('destroy')
    .description('delete a tenant and everything it owns: database, files, jobs (asks first)')
    .argument('<name>', 'tenant name')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--purge', 'remove what an already destroyed tenant left behind (files, jobs)')
    .option(
      '--grace <duration>',
      'soft delete: hide it now, purge it after this long (7d, 12h); undo with "tenantry restore <name>"',
      duration,
    )
    .action(async (name: string, opts: { yes?: boolean; purge?: boolean; grace?: number }) => {
      const store = await ctx.store()
      if (opts.grace !== undefined) {
        if (opts.purge)
          throw new CliError(
            'TENANTRY_CLI_USAGE',
            EXIT.USAGE,
            '--grace and --purge exclude each other.',
          )
        if (!(await store.exists(name)))
          throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknownTenant(name))
        await store.destroyTenant(name, { graceMs: opts.grace })
        const d = (await listDeleted(store)).find((x) => x.tenant === name)
        out(
          `Soft-deleted tenant "${name}": hidden now, purged at ${d?.purgeAt.toISOString()}. Undo with "tenantry restore ${name}".\n`,
        )
        return
      }
      if (opts.purge) {
        await op(store, 'purgeTenant', 'purge tenants')(name)
        out(`Purged what tenant "${name}" left behind.\n`)
        return
      }
      // A soft-deleted tenant is hidden, not gone: destroying it purges it now.
      const held =
        typeof store.listDeleted === 'function' &&
        (await store.listDeleted()).some((d) => d.tenant === name)
      if (!held && !(await store.exists(name)))
        throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknownTenant(name))
      if (!opts.yes) await confirm(io, name)
      await store.destroyTenant(name)
      out(`Destroyed tenant "${name}".\n`)
    })

  program
    .command('info')
    .description('where a tenant lives, its size, applied and pending migrations')
    .argument('<name>', 'tenant name')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const store = await ctx.store()
      if (!(await store.exists(name)))
        throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknownTenant(name))
      const info = await store.tenantInfo(name)
      out(opts.json ? `${JSON.stringify(info)}\n` : formatInfo(info))
    })
}

async function confirm(io: CliIO, name: string): Promise<void> {
  if (!io.stdin.isTTY)
    throw new CliError(
      'TENANTRY_CLI_USAGE',
      EXIT.USAGE,
      `Refusing to destroy "${name}" without confirmation: stdin is not a terminal. Pass --yes to confirm.`,
    )
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: false })
  // End of input (Ctrl-D) closes the interface without settling the question: treat it as no.
  const closed = new Promise<undefined>((done) => rl.once('close', () => done(undefined)))
  try {
    const answer = await Promise.race([
      rl.question(
        `Destroy tenant "${name}" and all its data? This cannot be undone.\nType the tenant name to confirm: `,
      ),
      closed,
    ])
    if (answer?.trim() !== name)
      throw new CliError(
        'TENANTRY_CLI_ABORTED',
        EXIT.ABORTED,
        `Aborted: "${name}" was not destroyed.`,
      )
  } finally {
    rl.close()
  }
}

function formatInfo(info: TenantInfo): string {
  const rows: [string, string][] = [
    ['tenant', info.tenant],
    ['location', info.location],
    ['size', info.size === undefined ? 'unknown' : formatBytes(info.size)],
    ['migrations', `${info.migrations.length} applied, ${info.pending.length} pending`],
    ['applied', info.migrations.join(', ') || '-'],
    ['pending', info.pending.join(', ') || '-'],
  ]
  return rows.map(([k, v]) => `${`${k}:`.padEnd(12)}${v}\n`).join('')
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(1)} ${units[i]} (${n} bytes)`
}
