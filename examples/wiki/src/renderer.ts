import { Marked } from 'marked'
import sanitizeHtml from 'sanitize-html'

/** A wiki's settings: the defaults are also the schema `@tenantry/settings` checks patches against. */
export const settingsDefaults = {
  /** Shown in the header of every page and as the sender name of notifications. */
  title: 'Wiki',
  /** HTML tags kept in rendered pages; everything else is stripped (its text stays). */
  allowedTags: [
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'p',
    'br',
    'hr',
    'blockquote',
    'pre',
    'code',
    'em',
    'strong',
    'del',
    'a',
    'ul',
    'ol',
    'li',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'img',
  ] as string[],
  /** Where "page saved" notifications go; empty: none are sent. */
  notify: '',
}

/** The settings of one wiki. */
export type WikiSettings = typeof settingsDefaults

/**
 * Tags a tenant may never allow: each one can run script or reshape the page outside the
 * article, and the wiki serves every tenant's pages from its own origin.
 */
export const FORBIDDEN_TAGS: ReadonlySet<string> = new Set([
  'script',
  'style',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'form',
  'input',
  'button',
  'textarea',
  'select',
  'option',
  'link',
  'meta',
  'base',
  'svg',
  'math',
  'template',
  'noscript',
  'html',
  'head',
  'body',
  'title',
])

/** Cross-field check of settings for `defineSettings({ validate })`. */
export function validateSettings(values: Readonly<WikiSettings>): true | string {
  if (values.title.trim() === '' || values.title.length > 100)
    return 'the title must have 1 to 100 characters'
  for (const tag of values.allowedTags) {
    if (!/^[a-z][a-z0-9]{0,15}$/.test(tag)) return `"${tag}" is not an HTML tag name`
    if (FORBIDDEN_TAGS.has(tag)) return `<${tag}> can never be allowed`
  }
  if (values.notify !== '' && !/^[^\s@<>]+@[^\s@<>]+$/.test(values.notify))
    return 'notify must be one e-mail address, or empty'
  return true
}

/** A tenant's Markdown renderer: built from that tenant's settings, rebuilt when they change. */
export interface Renderer {
  /** The site title it was built with (the settings it saw). */
  readonly title: string
  /** Markdown to sanitised HTML. */
  render(markdown: string): string
}

/**
 * Builds a renderer from one tenant's settings. Each renderer owns its `Marked` instance:
 * `marked.use()` on the shared default would leak one tenant's options into every other.
 */
export function createRenderer(settings: Readonly<WikiSettings>): Renderer {
  const marked = new Marked({ gfm: true })
  const options: sanitizeHtml.IOptions = {
    allowedTags: [...settings.allowedTags],
    allowedAttributes: {
      a: ['href', 'title'],
      img: ['src', 'alt', 'title'],
      code: ['class'],
      th: ['align'],
      td: ['align'],
    },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https'] },
  }
  return {
    title: settings.title,
    render: (markdown) => sanitizeHtml(marked.parse(markdown, { async: false }), options),
  }
}
