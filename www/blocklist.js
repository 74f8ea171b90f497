// The Keys view's list of blocked files (operators, with the admin token): the digests no
// upload may store, from GET /api/v1/admin/blocklist, page by page, each with Unblock
// (pressed twice). A take-down that blocks adds its entry at the top.
import { $, banner, button, cell as td, confirmed, disarm, isBusy, localTime, pagedTable, setBusy, showError, stillWaiting } from './ui.js';
import { admin, adminPage, inputs } from './session.js';

const body = $('blocklist-body');
const more = $('blocklist-more');
const status = $('blocklist-status');
const errorBanner = $('blocklist-error');
const table = pagedTable({
  body,
  more,
  page: async (after) => {
    banner(errorBanner, null);
    return adminPage('/blocklist', 'blocked', after);
  },
  row,
  id: (entry) => entry.sha256,
  rowId: (tr) => tr.dataset.sha256,
  done: counted,
  landing: status,
  // What is shown stays (a key or secret shown only this once above all): another token
  // forgets it (`app.js`), a failed listing does not.
  failed: (err) => showError(err, { adminToken: inputs.adminToken }, errorBanner),
});

/** Lists the first page. */
export const load = () => table.load();

/** A take-down blocked `sha256`: its entry, as the server keeps it, goes at the top (once).
 * A failed read leaves the list as it is (the next listing has it). */
export async function added(sha256) {
  const run = table.generation();
  const entry = await admin('GET', `/blocklist/${sha256}`).catch(() => null);
  if (!entry || run !== table.generation()) return;
  body.querySelector(`tr[data-sha256="${sha256}"]`)?.remove();
  body.prepend(row(entry));
  counted();
}

/** Forgets what another token listed. */
export function forget() {
  table.reset();
  $('blocklist-empty').hidden = true;
  status.textContent = '';
  banner(errorBanner, null);
}

function counted() {
  $('blocklist-empty').hidden = body.children.length > 0;
}

/** An entry's row: digest, reason, when, the file and key it was taken down from, Unblock. */
function row(entry) {
  const tr = document.createElement('tr');
  tr.dataset.sha256 = entry.sha256;
  const digest = document.createElement('th');
  digest.scope = 'row';
  digest.dataset.label = 'SHA-256';
  const code = document.createElement('code');
  code.textContent = entry.sha256;
  digest.append(code);
  const from = entry.file_id ? `${entry.file_id} (key ${entry.key_id})` : 'blocked by digest';
  const actions = td('', 'Actions');
  actions.className = 'row-actions';
  const short = entry.sha256.slice(0, 12);
  const unblock = button('Unblock', `Unblock ${short}`, 'ghost small danger');
  actions.append(unblock);
  tr.append(digest, td(entry.reason ?? '', 'Reason'), td(entry.blocked_at ? localTime(entry.blocked_at) : 'unknown', 'Blocked'), td(from, 'Taken down from', 'token'), actions);
  unblock.addEventListener('click', async (event) => {
    if (!confirmed(event, unblock, { text: 'Confirm unblock', label: `Confirm unblock of ${short}` })) return;
    if (isBusy(unblock)) return;
    setBusy(unblock, null, true);
    // The keyboard's place, if still on this row, moves to the next row's Unblock (or the
    // previous one's, or the list's heading) before this row goes.
    const gone = (said) => {
      const next = tr.nextElementSibling ?? tr.previousElementSibling;
      const place = next?.querySelector('button') ?? $('blocklist-title');
      const focused = stillWaiting(tr);
      tr.remove();
      counted();
      status.textContent = `${said}: its bytes may be uploaded again.`;
      if (focused) place.focus();
    };
    try {
      await admin('DELETE', `/blocklist/${entry.sha256}`);
      gone(`Unblocked ${short}…`);
    } catch (err) {
      // Unblocked already (in another tab, or by another operator): the same end.
      if (err.status === 404) return gone(`${short}… was unblocked already`);
      setBusy(unblock, null, false);
      disarm(unblock);
      showError(err, { adminToken: inputs.adminToken }, errorBanner);
    }
  });
  return tr;
}
