import { existsSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { CliError, EXIT } from '../errors.js'
import { type OperationsStore, op } from './shared.js'

/** A soft-deleted tenant as the commands see it. */
export interface DeletedEntry {
  tenant: string
  deletedAt: Date
  purgeAt: Date
}

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Parses `--grace 7d` (`ms`, `s`, `m`, `h`, `d`, `w`; `1h30m` adds up) into milliseconds. */
export function duration(value: string): number {
  const parts = [...value.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)]
  const whole = parts.map((p) => p[0]).join('')
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0)
  if (parts.length === 0 || whole !== value.trim() || !(ms > 0))
    throw new InvalidArgumentError('expected a duration such as 30m, 12h, 7d or 1h30m.')
  return ms
}

/** The soft-deleted tenants of the store, or a one-line error when it has none to offer. */
export function listDeleted(store: OperationsStore): Promise<DeletedEntry[]> {
  return op(store, 'listDeleted', 'soft-delete tenants')()
}

/** `acme  purge at 2026-12-09T04:00:00.000Z (in 6d 23h)`. */
export function formatDeleted(d: DeletedEntry, now = Date.now()): string {
  const left = d.purgeAt.getTime() - now
  return `${d.tenant}  purge at ${d.purgeAt.toISOString()} (${left > 0 ? `in ${human(left)}` : 'due now'})`
}

function human(ms: number): string {
  const d = Math.floor(ms / 86_400_000)
  const h = Math.floor((ms % 86_400_000) / 3_600_000)
  const m = Math.floor((ms % 3_600_000) / 60_000)
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${m}m`
  return m > 0 ? `${m}m` : `${Math.ceil(ms / 1000)}s`
}

/**
 * What `tenantry restore <target>` means: a backup file, or the name of a soft-deleted tenant
 * (`--deleted` says so outright). A target that is both, or neither, is a usage error.
 */
export async function restoreTarget(
  store: OperationsStore,
  target: string,
  path: string,
  deletedFlag: boolean,
): Promise<'file' | 'deleted'> {
  if (deletedFlag) return 'deleted'
  const isFile = existsSync(path)
  const held =
    typeof store.listDeleted === 'function' &&
    (await store.listDeleted()).some((d) => d.tenant === target)
  if (isFile && held)
    throw new CliError(
      'TENANTRY_CLI_USAGE',
      EXIT.USAGE,
      `"${target}" is both a file and a soft-deleted tenant: pass --deleted to undo the delete, or ./${target} for the file.`,
    )
  if (isFile) return 'file'
  if (held) return 'deleted'
  throw new CliError(
    'TENANTRY_CLI_USAGE',
    EXIT.USAGE,
    `No backup file at ${path} and no soft-deleted tenant "${target}" (\`tenantry list --deleted\` shows them).`,
  )
}
