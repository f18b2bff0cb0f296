import { existsSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { Command } from 'commander'
import { CliError, EXIT, messageOf } from '../errors.js'
import {
  type CommandContext,
  eachTenant,
  op,
  positiveInt,
  reportFailures,
  type Selection,
  selectTenants,
  tenantList,
} from './shared.js'
import { restoreTarget } from './soft-delete.js'

/** `tenantry backup` and `tenantry restore`. */
export function registerBackupCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx
  const out = (s: string) => io.stdout.write(s)
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p))

  program
    .command('backup')
    .description('back up tenants (database and files) into a folder, or one tenant into a file')
    .argument('[name]', 'tenant name')
    .option('-a, --all', 'back up every tenant')
    .option('--tenants <names>', 'back up these tenants (comma-separated)', tenantList)
    .option('--to <path>', 'folder (one file per backup inside it), or a file for one tenant')
    .option(
      '--keep <n>',
      'keep only the newest N backups of each tenant in the folder',
      positiveInt,
    )
    .option('--concurrency <n>', 'tenants backed up at once', positiveInt, 2)
    .option('--json', 'print the results as JSON')
    .action(
      async (
        name: string | undefined,
        opts: Selection & { to?: string; keep?: number; concurrency: number; json?: boolean },
      ) => {
        if (opts.to === undefined)
          throw new CliError(
            'TENANTRY_CLI_USAGE',
            EXIT.USAGE,
            'backup needs --to <folder or file>.',
          )
        const store = await ctx.store()
        const tenants = await selectTenants(store, name, opts, 'backup')
        const to = abs(opts.to)
        // One tenant into a file, unless --to names a folder (one that exists, or ends in "/").
        const toFile =
          name !== undefined &&
          !(existsSync(to) && statSync(to).isDirectory()) &&
          !opts.to.endsWith('/')
        if (toFile && opts.keep !== undefined)
          throw new CliError('TENANTRY_CLI_USAGE', EXIT.USAGE, '--keep needs --to <folder>.')
        if (toFile) {
          await op(store, 'backupTenant', 'make backups')(name!, to)
          out(
            opts.json
              ? `${JSON.stringify([{ tenant: name, file: to }])}\n`
              : `Backed up "${name}" to ${to}.\n`,
          )
          return
        }
        const backup = op(store, 'backupTenantToDir', 'make backups')
        const results = await eachTenant(
          io,
          tenants,
          {
            concurrency: opts.concurrency,
            label: 'Backing up',
            quiet: opts.json,
            describe: (file: string) => `backed up to ${file}`,
          },
          (t) => backup(t, to, { keep: opts.keep }),
        )
        if (opts.json)
          out(
            `${JSON.stringify(results.map((r) => (r.error === undefined ? { tenant: r.tenant, file: r.value } : { tenant: r.tenant, error: messageOf(r.error) })))}\n`,
          )
        else {
          const failed = results.filter((r) => r.error !== undefined).length
          out(`${results.length - failed} backed up, ${failed} failed.\n`)
        }
        if (reportFailures(io, results)) ctx.exit(EXIT.FAILURE)
      },
    )

  program
    .command('restore')
    .description(
      'restore a tenant from a backup or export file (verified before it is visible), or undo a soft delete',
    )
    .argument(
      '<file|name>',
      'backup file (from "tenantry backup" or "tenantry export"), or a soft-deleted tenant',
    )
    .option('--as <name>', 'restore under this name (default: the name in the backup)')
    .option('-f, --force', 'replace the tenant if it exists')
    .option('--deleted', 'the argument is a soft-deleted tenant: undo its delete')
    .action(async (file: string, opts: { as?: string; force?: boolean; deleted?: boolean }) => {
      const path = abs(file)
      const store = await ctx.store()
      if ((await restoreTarget(store, file, path, opts.deleted === true)) === 'deleted') {
        if (opts.as !== undefined || opts.force)
          throw new CliError(
            'TENANTRY_CLI_USAGE',
            EXIT.USAGE,
            '--as and --force are for backup files; undoing a soft delete keeps the name.',
          )
        await op(store, 'undestroyTenant', 'soft-delete tenants')(file)
        out(`Restored soft-deleted tenant "${file}".\n`)
        return
      }
      const r = await op(
        store,
        'restoreTenant',
        'restore backups',
      )(path, {
        as: opts.as,
        force: opts.force,
      })
      out(
        `Restored tenant "${r.tenant}" from ${path} (taken from "${r.manifest.tenant}" on ${r.manifest.backend}).\n`,
      )
    })
}
