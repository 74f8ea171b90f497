// The Keys view's take-down form (operators, with the admin token): a reported link, or a
// file id, with a reason and whether to block the bytes, to POST /api/v1/admin/takedown;
// what was removed is said in the status line.
import { $, banner, clearErrors, clearOnInput, isBusy, setBusy, showError } from './ui.js';
import { adminEnvelope, inputs } from './session.js';
import { formatBytes } from './format.js';
import { added } from './blocklist.js';

const form = $('takedown-form');
const link = $('takedown-link');
const reason = $('takedown-reason');
const block = $('takedown-block');
const status = $('takedown-status');
const errorBanner = $('takedown-error');

clearOnInput(form);

/** The request body for what was typed: a bare id as `file_id`, anything else as `url`. */
function reported(text) {
  return /^file_[0-9a-f]{32}$/.test(text) ? { file_id: text } : { url: text };
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const submit = $('takedown-submit');
  if (isBusy(submit)) return;
  clearErrors(form, errorBanner);
  status.textContent = '';
  setBusy(submit, null, true);
  try {
    const why = reason.value.trim();
    const answer = await adminEnvelope('POST', '/takedown', { ...reported(link.value.trim()), block: block.checked, ...(why ? { reason: why } : {}) });
    const gone = answer.data;
    const blocked = gone.blocked ? ' Uploads of the same bytes are refused from now on.' : '';
    if (gone.blocked) added(gone.sha256);
    // The file is gone either way; a block asked for and not made must not pass unseen.
    else if (block.checked) banner(errorBanner, `${answer.msg}. Its SHA-256 is ${gone.sha256}: block it with PUT /api/v1/admin/blocklist/${gone.sha256} once that is fixed.`);
    // Bytes no live file held (a used-up one-time download's) have no name any more.
    const what = gone.served ? `${gone.upload_path}/${gone.file_name}` : `the bytes of ${gone.file_id}, no longer served`;
    status.textContent = `Took down ${what} (${formatBytes(gone.file_size)}, key ${gone.key_id}, SHA-256 ${gone.sha256}).${blocked}`;
    form.reset();
  } catch (err) {
    showError(err, { adminToken: inputs.adminToken, url: link, file_id: link, reason }, errorBanner);
  } finally {
    setBusy(submit, null, false);
  }
});

/** Forgets what another token did here. */
export function forget() {
  clearErrors(form, errorBanner);
  status.textContent = '';
}
