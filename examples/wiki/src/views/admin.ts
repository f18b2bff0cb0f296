import { html, type SafeHtml } from './html.js'
import { plainPage } from './layout.js'

/** One wiki in the admin list, with the two ways to reach it. */
export interface WikiLink {
  name: string
  /** `http://acme.localhost:3000/`, or `undefined` when the request host has no subdomains. */
  subdomainUrl: string | undefined
  /** `/t/acme/`. */
  pathUrl: string
}

/** The admin page: every wiki, a create form and destroy buttons. */
export function adminView(wikis: WikiLink[], backend: string, error?: string): SafeHtml {
  return plainPage(
    'Wikis',
    html`<h1>Wikis</h1>
<p class="muted">One process, many wikis: each has its own database (${backend}), files, settings, renderer and mailer.</p>
${error && html`<p class="error">${error}</p>`}
<table class="list" id="wikis">
${wikis.map(
  (w) => html`<tr><td><strong>${w.name}</strong></td>
<td>${w.subdomainUrl && html`<a href="${w.subdomainUrl}">${w.subdomainUrl}</a>`}</td>
<td><a href="${w.pathUrl}">${w.pathUrl}</a></td>
<td><form class="inline" method="post" action="/admin/wikis/${w.name}/destroy"><button>Destroy</button></form></td></tr>`,
)}
</table>
${wikis.length === 0 && html`<p>No wikis yet.</p>`}
<h2>Create a wiki</h2>
<form method="post" action="/admin/wikis">
<input type="text" name="name" required maxlength="63" placeholder="name (a DNS label: a-z, 0-9, -)" style="width:20em">
<button>Create</button>
</form>`,
  )
}

/** An error page (unknown wiki, bad name, missing page). */
export function errorView(status: number, message: string, code?: string): SafeHtml {
  return plainPage(
    `Error ${status}`,
    html`<h1>${status === 404 ? 'Not found' : status < 500 ? 'Bad request' : 'Error'}</h1>
<p class="error">${message}</p>
${code && html`<p class="muted">${code}</p>`}
<p><a href="/">All wikis</a></p>`,
  )
}
