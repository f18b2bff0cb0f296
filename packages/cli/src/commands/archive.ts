import { createReadStream, createWriteStream, existsSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { Command } from 'commander'
import { CliError, EXIT } from '../errors.js'
import { type CommandContext, op, unknownTenant } from './shared.js'

/** `tenantry export`, `tenantry import` and `tenantry clone`. */
export function registerArchiveCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p))

  program
    .command('export')
    .description(
      'write a portable archive of a tenant (rows, files, migrations) to stdout or a file',
    )
    .argument('<name>', 'tenant name')
    .option('--to <file>', 'write to this file instead of stdout')
    .action(async (name: string, opts: { to?: string }) => {
      const store = await ctx.store()
      if (!(await store.exists(name)))
        throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknownTenant(name))
      const exportTenant = op(store, 'exportTenant', 'export tenants')
      if (opts.to === undefined) {
        if (io.stdout.isTTY)
          throw new CliError(
            'TENANTRY_CLI_USAGE',
            EXIT.USAGE,
            'Refusing to write an archive to a terminal: pipe it ("tenantry export acme | tenantry import") or pass --to <file>.',
          )
        await exportTenant(name, io.stdout)
        return
      }
      const file = abs(opts.to)
      const partial = `${file}.partial`
      try {
        const outFile = createWriteStream(partial, { mode: 0o600 })
        await exportTenant(name, outFile)
        await finished(outFile)
        await rename(partial, file)
      } catch (error) {
        await rm(partial, { force: true })
        throw error
      }
      io.stderr.write(`Exported tenant "${name}" to ${file}.\n`)
    })

  program
    .command('import')
    .description('create a tenant from an archive on stdin or in a file (any backend)')
    .argument('[file]', 'archive file (default: stdin)')
    .option('--as <name>', 'import under this name (default: the name in the archive)')
    .option('-f, --force', 'replace the tenant if it exists')
    .action(async (file: string | undefined, opts: { as?: string; force?: boolean }) => {
      let source: Readable
      if (file === undefined) {
        if (io.stdin.isTTY)
          throw new CliError(
            'TENANTRY_CLI_USAGE',
            EXIT.USAGE,
            'import reads an archive from stdin: pipe one in ("tenantry export acme | tenantry import") or name a file.',
          )
        source = io.stdin
      } else {
        const path = abs(file)
        if (!existsSync(path))
          throw new CliError('TENANTRY_CLI_USAGE', EXIT.USAGE, `No archive file at ${path}.`)
        source = createReadStream(path)
      }
      const store = await ctx.store()
      const r = await op(
        store,
        'restoreTenant',
        'import tenants',
      )(source, {
        as: opts.as,
        force: opts.force,
      })
      io.stderr.write(
        `Imported tenant "${r.tenant}" (exported from "${r.manifest.tenant}" on ${r.manifest.backend}).\n`,
      )
    })

  program
    .command('clone')
    .description('copy a tenant (rows and files) into a new tenant')
    .argument('<from>', 'tenant to copy')
    .argument('<to>', 'name of the new tenant')
    .option('-f, --force', 'replace <to> if it exists')
    .action(async (from: string, to: string, opts: { force?: boolean }) => {
      const store = await ctx.store()
      if (!(await store.exists(from)))
        throw new CliError('TENANTRY_UNKNOWN_TENANT', EXIT.UNKNOWN_TENANT, unknownTenant(from))
      await op(store, 'cloneTenant', 'clone tenants')(from, to, { force: opts.force })
      io.stdout.write(`Cloned tenant "${from}" into "${to}".\n`)
    })
}
