import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { Command } from 'commander'
import { importModule } from '../config.js'
import { CliError, EXIT } from '../errors.js'
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

/** What a `tenantry run` script exports as default. */
export type RunScript = (context: { tenant: string; args: string[] }) => unknown

const SCRIPT = /\.(c|m)?(t|j)s$/

/** `tenantry run <script|command>`. */
export function registerRunCommand(program: Command, ctx: CommandContext): void {
  const { io } = ctx
  program
    .command('run')
    .description(
      "run a script inside each tenant (its default export gets { tenant, args }; getDb() is the tenant's), or a shell command once per tenant with TENANTRY_TENANT set",
    )
    .argument('<target>', 'a .ts/.js file, or a shell command')
    .argument('[args...]', 'arguments passed to the script or command')
    .option('--tenant <name>', 'one tenant')
    .option('-a, --all', 'every tenant')
    .option('--tenants <names>', 'these tenants (comma-separated)', tenantList)
    .option('--concurrency <n>', 'tenants at once', positiveInt, 1)
    .action(
      async (
        target: string,
        args: string[],
        opts: Selection & { tenant?: string; concurrency: number },
      ) => {
        const store = await ctx.store()
        const tenants = await selectTenants(store, opts.tenant, opts, 'run')
        const file = isAbsolute(target) ? target : resolve(io.cwd, target)
        const isScript = SCRIPT.test(target) && existsSync(file)
        let each: (tenant: string) => Promise<unknown>
        if (isScript) {
          const mod = (await importModule(file)) as { default?: unknown }
          const script = mod.default
          if (typeof script !== 'function')
            throw new CliError(
              'TENANTRY_CLI_USAGE',
              EXIT.USAGE,
              `${file} must export default a function ({ tenant, args }) => ...`,
            )
          store.install?.()
          const inTenant = op(store, 'inTenant', 'run scripts in tenants')
          each = (tenant) => inTenant(tenant, () => (script as RunScript)({ tenant, args }))
        } else {
          const command = [target, ...args].join(' ')
          each = (tenant) => shell(ctx, command, tenant)
        }
        const results = await eachTenant(
          io,
          tenants,
          { concurrency: opts.concurrency, label: 'Running', describe: () => 'done' },
          each,
        )
        if (reportFailures(io, results)) ctx.exit(EXIT.FAILURE)
      },
    )
}

function shell(ctx: CommandContext, command: string, tenant: string): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, {
      shell: true,
      cwd: ctx.io.cwd,
      env: { ...process.env, TENANTRY_TENANT: tenant },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout.on('data', (c) => ctx.io.stdout.write(c))
    child.stderr.on('data', (c) => ctx.io.stderr.write(c))
    child.on('error', fail)
    child.on('close', (code) =>
      code === 0
        ? done()
        : fail(
            new CliError(
              'TENANTRY_CLI_COMMAND_FAILED',
              EXIT.FAILURE,
              `the command exited with code ${code}`,
            ),
          ),
    )
  })
}
