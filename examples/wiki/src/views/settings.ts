import type { WikiSettings } from '../renderer.js'
import { html, type SafeHtml } from './html.js'
import { type WikiView, wikiPage } from './layout.js'

/** The settings form of a wiki. */
export function settingsView(
  view: WikiView,
  values: Readonly<WikiSettings>,
  message?: { error?: string; saved?: boolean },
): SafeHtml {
  return wikiPage(
    view,
    'Settings',
    html`<h1>Settings</h1>
${message?.saved && html`<p class="muted" id="saved">Saved. The renderer and the mailer were rebuilt for this wiki only.</p>`}
${message?.error && html`<p class="error">${message.error}</p>`}
<form method="post" action="${view.base}/settings">
<p><label>Site title<br><input type="text" name="title" value="${values.title}" required maxlength="100"></label></p>
<p><label>Allowed HTML tags (space separated)<br><input type="text" name="allowedTags" value="${values.allowedTags.join(' ')}"></label></p>
<p><label>Notify on save (e-mail, empty for none)<br><input type="email" name="notify" value="${values.notify}"></label></p>
<p><button>Save settings</button></p>
</form>
<p class="muted">Stored in this wiki's own <code>tenantry_settings</code> table (<code>@tenantry/settings</code>).</p>`,
  )
}
