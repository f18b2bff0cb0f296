import { html, type SafeHtml } from './html.js'

/** What every tenant page needs to draw its frame and links. */
export interface WikiView {
  /** The tenant. */
  tenant: string
  /** URL prefix of the wiki: `''` on `acme.localhost`, `/t/acme` on the path form. */
  base: string
  /** Site title from the tenant's settings. */
  title: string
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#234;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:baseline;flex-wrap:wrap}
header a{color:#cde}header .site{font-weight:bold;font-size:1.2em;color:#fff;text-decoration:none}
main{max-width:52em;margin:1.5em auto;padding:0 1.2em}
input[type=text],input[type=email],textarea{width:100%;box-sizing:border-box;font:inherit;padding:.3em}
textarea{min-height:16em;font-family:ui-monospace,monospace}
.muted{color:#777;font-size:.9em}.error{background:#fdd;padding:.5em 1em;border-left:4px solid #c33}
table.list{border-collapse:collapse;width:100%}table.list td,table.list th{border-bottom:1px solid #ddd;padding:.3em;text-align:left}
article{background:#fff;padding:.5em 1.2em;border:1px solid #e5e5e5}
pre{background:#f3f3f3;padding:.5em;overflow:auto}
form.inline{display:inline}
`

/** A complete HTML document. */
export function documentPage(title: string, header: SafeHtml, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<header>${header}</header>
<main>${body}</main>
</body>
</html>
`
}

/** A page inside one wiki: its title and navigation in the header. */
export function wikiPage(view: WikiView, title: string, body: SafeHtml): SafeHtml {
  const b = view.base
  return documentPage(
    `${title} · ${view.title}`,
    html`<a class="site" href="${b}/">${view.title}</a>
<a href="${b}/">Pages</a>
<a href="${b}/pages/new">New page</a>
<a href="${b}/settings">Settings</a>
<a href="${b}/outbox">Outbox</a>
<span class="muted">tenant: ${view.tenant}</span>`,
    body,
  )
}

/** A page outside any wiki (the admin, errors on the bare host). */
export function plainPage(title: string, body: SafeHtml): SafeHtml {
  return documentPage(
    title,
    html`<a class="site" href="/">tenantry wiki</a><span class="muted">admin</span>`,
    body,
  )
}
