/** HTML that is already safe: template output, sanitised Markdown. Never user input as is. */
export class SafeHtml {
  constructor(
    /** The markup. */
    readonly value: string,
  ) {}

  /** The markup (so a `SafeHtml` can be sent as a reply body). */
  toString(): string {
    return this.value
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

/** Marks trusted markup as safe (sanitised Markdown output). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup)
}

function render(value: unknown): string {
  if (value === undefined || value === null || value === false) return ''
  if (value instanceof SafeHtml) return value.value
  if (Array.isArray(value)) return value.map(render).join('')
  return escapeHtml(String(value))
}

/**
 * The template tag of every view: interpolated values are escaped unless they are
 * {@link SafeHtml} (nested templates, sanitised Markdown); arrays are joined; `false`,
 * `null` and `undefined` render as nothing, so `${cond && html`...`}` works.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new SafeHtml(out)
}
