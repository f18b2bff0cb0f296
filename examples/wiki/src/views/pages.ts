import { liveScript } from '../live.js'
import type { PageRow, RevisionRow } from '../migrations.js'
import { html, raw, type SafeHtml } from './html.js'
import { type WikiView, wikiPage } from './layout.js'

/** The list of a wiki's pages. */
export function pageListView(
  view: WikiView,
  pages: Pick<PageRow, 'slug' | 'title' | 'updated_at' | 'revision'>[],
): SafeHtml {
  const rows = pages.map(
    (p) => html`<tr><td><a href="${view.base}/pages/${p.slug}">${p.title}</a></td>
<td class="muted">rev ${p.revision}</td><td class="muted">${p.updated_at.slice(0, 16).replace('T', ' ')}</td></tr>`,
  )
  return wikiPage(
    view,
    'Pages',
    html`<h1>Pages</h1>
${pages.length === 0 ? html`<p>No pages yet.</p>` : html`<table class="list" id="pages">${rows}</table>`}
<p><a href="${view.base}/pages/new">Create a page</a></p>`,
  )
}

/** One page, rendered by the tenant's renderer, with its attachments and an upload form. */
export function pageView(
  view: WikiView,
  page: PageRow,
  rendered: string,
  attachments: { name: string; size: number }[],
  note?: string,
): SafeHtml {
  const p = `${view.base}/pages/${page.slug}`
  return wikiPage(
    view,
    page.title,
    html`${note && html`<p class="error">${note}</p>`}
<h1>${page.title}</h1>
<p class="muted">revision ${page.revision}, ${page.updated_at.slice(0, 16).replace('T', ' ')} ·
<a href="${p}/edit">Edit</a> · <a href="${p}/history">History</a></p>
<article>${raw(rendered)}</article>
<h2>Attachments</h2>
${
  attachments.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<ul id="attachments">${attachments.map(
        (a) =>
          html`<li><a href="${p}/attachments/${encodeURIComponent(a.name)}">${a.name}</a> <span class="muted">${a.size} bytes</span></li>`,
      )}</ul>`
}
<form method="post" action="${p}/attachments" enctype="multipart/form-data">
<input type="file" name="file" required> <button>Upload</button>
</form>
${liveScript(p)}`,
  )
}

/** The create form (no page) or the edit form (a page). */
export function editView(
  view: WikiView,
  page: { slug?: string; title: string; body: string; revision?: number },
  error?: string,
): SafeHtml {
  const editing = page.slug !== undefined
  const action = editing ? `${view.base}/pages/${page.slug}` : `${view.base}/pages`
  return wikiPage(
    view,
    editing ? `Edit ${page.title}` : 'New page',
    html`<h1>${editing ? html`Edit “${page.title}”` : 'New page'}</h1>
${error && html`<p class="error">${error}</p>`}
<form method="post" action="${action}">
<p><label>Title<br><input type="text" name="title" value="${page.title}" required maxlength="200"></label></p>
<p><label>Markdown<br><textarea name="body">${page.body}</textarea></label></p>
${editing && html`<input type="hidden" name="revision" value="${page.revision}">`}
<p><label>Summary of the change<br><input type="text" name="summary" maxlength="200"></label></p>
<p><button>Save</button></p>
</form>`,
  )
}

/** The revisions of a page, newest first. */
export function historyView(view: WikiView, page: PageRow, revisions: RevisionRow[]): SafeHtml {
  const p = `${view.base}/pages/${page.slug}`
  return wikiPage(
    view,
    `History of ${page.title}`,
    html`<h1>History of <a href="${p}">${page.title}</a></h1>
<table class="list" id="history">
<tr><th>Revision</th><th>Title</th><th>Summary</th><th>Saved</th></tr>
${revisions.map(
  (
    r,
  ) => html`<tr><td><a href="${p}/revisions/${r.revision}">${r.revision}</a></td><td>${r.title}</td>
<td>${r.summary}</td><td class="muted">${r.created_at.slice(0, 19).replace('T', ' ')}</td></tr>`,
)}
</table>`,
  )
}

/** One old revision, rendered. */
export function revisionView(view: WikiView, revision: RevisionRow, rendered: string): SafeHtml {
  const p = `${view.base}/pages/${revision.slug}`
  return wikiPage(
    view,
    `${revision.title} (revision ${revision.revision})`,
    html`<h1>${revision.title}</h1>
<p class="muted">revision ${revision.revision} of <a href="${p}">this page</a> · <a href="${p}/history">History</a></p>
<article>${raw(rendered)}</article>`,
  )
}
