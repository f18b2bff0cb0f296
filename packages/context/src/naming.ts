import { InvalidTenantNameError } from './errors.js'

/** The default rule: a DNS label, so a tenant name is always a valid subdomain and a safe folder. */
export const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * A naming rule: a RegExp the whole name must match, or a function returning `true` when the
 * name is fine and `false` or a reason (string) when it is not.
 */
export type NamingRule = RegExp | ((name: string) => boolean | string)

/** Options of the naming rule. */
export interface NamingOptions {
  /** The rule itself; default {@link DNS_LABEL}. */
  rule?: NamingRule
  /** Longest allowed name in characters; default 63. */
  maxLength?: number
}

// Refused whatever the configured rule says: these would make a tenant name a path.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const UNSAFE = /[/\\\u0000-\u001f\u007f]/

/** What `last` starts as: equal to no name anybody can pass. */
const NONE = Symbol('no name yet')

/** Returns a validator that throws {@link InvalidTenantNameError} for bad names. */
export function createNameValidator(options: NamingOptions = {}): (name: unknown) => string {
  const rule = options.rule ?? DNS_LABEL
  const maxLength = options.maxLength ?? 63
  // Names already accepted, so the hot path is a Set lookup rather than a regex; bounded.
  const accepted = new Set<string>()
  // The last accepted name: a warm loop over one tenant compares a pointer, not a hash lookup.
  let last: unknown = NONE
  return (name: unknown): string => {
    if (name === last) return name as string
    if (typeof name === 'string' && accepted.has(name)) {
      last = name
      return name
    }
    if (typeof name !== 'string') throw new InvalidTenantNameError(name, 'it must be a string')
    if (name.length === 0) throw new InvalidTenantNameError(name, 'it is empty')
    if (name.length > maxLength)
      throw new InvalidTenantNameError(name, `it is longer than ${maxLength} characters`)
    if (name === '.' || name === '..' || UNSAFE.test(name) || name.trim() !== name)
      throw new InvalidTenantNameError(
        name,
        'it contains a path separator, a control character, surrounding white space or is "."/".."',
      )
    if (typeof rule === 'function') {
      const verdict = rule(name)
      if (verdict !== true)
        throw new InvalidTenantNameError(
          name,
          typeof verdict === 'string' ? verdict : 'the naming rule refused it',
        )
    } else if (!rule.test(name)) {
      throw new InvalidTenantNameError(
        name,
        rule === DNS_LABEL
          ? 'use lower-case letters, digits and inner hyphens (a DNS label, at most 63 characters)'
          : `it does not match ${rule}`,
      )
    }
    if (accepted.size >= 4096) accepted.clear()
    accepted.add(name)
    last = name
    return name
  }
}
