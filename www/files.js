// The My files view: the key's live files as a table, filtered by folder, paged with the
// API's cursor, copy/open/delete per row, and the usage meter (bytes and files against the
// quota), read again after every change.
import { $, button, cell, clearErrors, clearOnInput, confirmed, disarm, isBusy, localTime, setBusy, showError, stillWaiting, copy } from './ui.js';
import { apiKey, client, inputs, ready } from './session.js';
import { formatBytes, formatDownloads } from './format.js';

const form = $('files-form');
const folder = $('files-folder');
const limit = $('files-limit');
const body = $('files-body');
const status = $('files-status');
const errorBanner = $('files-error');
const prev = $('files-prev');
const next = $('files-next');
const fields = () => ({ apiKey: inputs.apiKey, uploadPath: folder });

/** The cursors of the pages before this one (the first page's is null) and of the next. */
let pages = [null];
let nextCursor = null;
/** The listing the pages belong to: a new folder or page size starts from page 1. */
let query = null;
/** The latest load: an answer to an earlier one is dropped. */
let loads = 0;

clearOnInput(form);
// Another key's listing: its cursors, rows and usage are not this one's (and an answer
// still on its way for the old key is dropped).
inputs.apiKey.addEventListener('input', () => {
  loads += 1;
  usageRun += 1;
  query = null;
  pages = [null];
  nextCursor = null;
  render([]);
  $('files-empty').hidden = true;
  $('files-page').textContent = '';
  status.textContent = '';
  pager(false);
  prev.disabled = true;
  next.disabled = true;
  setBusy($('files-submit'), $('files-table'), false);
  clearUsage();
});

// A new filter while a page loads starts over from it: the page on its way is dropped.
form.addEventListener('submit', (event) => {
  event.preventDefault();
  load({ reset: true });
});
prev.addEventListener('click', () => {
  if (isBusy(prev)) return;
  pages.pop();
  load({ focus: [prev, next] });
});
next.addEventListener('click', () => {
  if (isBusy(next)) return;
  pages.push(nextCursor);
  load({ focus: [next, prev] });
});

/** Marks the pager busy while a page loads (a second click would page from a cursor not yet
 * known): busy, not disabled, so the button a keyboard user pressed keeps focus. */
function pager(busy) {
  setBusy(prev, null, busy);
  setBusy(next, null, busy);
}

/** Reads the page `pages.at(-1)` of the current query; `focus`: the pager buttons to keep
 * focus on, the first that is still enabled (else the status line, which says the page);
 * `said`: what the status line says before the page. */
async function load({ reset = false, focus, said } = {}) {
  clearErrors(form, errorBanner);
  clearErrors(inputs.apiKey.closest('.field'));
  if (!(await ready)) return;
  if (!apiKey()) return showError({ field: 'apiKey', message: 'Enter your API key to see your files.' }, fields(), errorBanner);
  if (reset || !query) {
    query = { uploadPath: folder.value.trim() || undefined, limit: Number(limit.value) };
    pages = [null];
  }
  const c = client();
  const run = ++loads;
  setBusy($('files-submit'), $('files-table'), true);
  pager(true);
  try {
    const page = await c.listFiles({ ...query, cursor: pages.at(-1) ?? undefined });
    if (run !== loads) return;
    nextCursor = page.cursor;
    render(page.files);
    const where = query.uploadPath ? ` in ${query.uploadPath}` : '';
    status.textContent = `${said ? `${said} ` : ''}Page ${pages.length}: ${page.files.length} file${page.files.length === 1 ? '' : 's'}${where}.`;
    $('files-page').textContent = `Page ${pages.length}`;
  } catch (err) {
    if (run !== loads) return;
    // Not the page the pager points at: no rows, no next page from another listing.
    nextCursor = null;
    render([]);
    $('files-empty').hidden = true;
    $('files-page').textContent = '';
    showError(err, fields(), errorBanner);
    status.textContent = `${said ? `${said} ` : ''}Not listed: ${err.message}`;
  } finally {
    c.free();
    if (run === loads) {
      setBusy($('files-submit'), $('files-table'), false);
      pager(false);
      prev.disabled = pages.length <= 1;
      next.disabled = !nextCursor;
      // only if the keyboard is still on the pager (or, its row deleted, nowhere)
      if (focus && stillWaiting(prev.parentElement)) (focus.find((b) => !b.disabled) ?? status).focus();
    }
  }
  if (run === loads) refreshUsage();
}

function render(files) {
  body.replaceChildren(...files.map(row));
  $('files-empty').hidden = files.length > 0;
}

function row(file) {
  const tr = document.createElement('tr');
  tr.dataset.fileId = file.file_id;
  const name = document.createElement('th');
  name.scope = 'row';
  name.className = 'token';
  // isolated: a right-to-left name leaves the words after it where they are
  const bdi = document.createElement('bdi');
  bdi.textContent = file.file_name;
  name.append(bdi);
  name.dir = 'auto';
  name.dataset.label = 'Name';
  // Opening a file with a download limit uses one of its downloads up: said beside its name
  // and on its Open link.
  const counted = file.max_downloads != null;
  const downloads = counted ? `${formatDownloads(file.downloads, file.max_downloads)} downloads used` : '';
  if (counted) {
    const used = document.createElement('span');
    used.className = 'hint';
    used.textContent = ` (${downloads})`;
    name.append(used);
  }
  const expires = cell('', 'Expires');
  const time = document.createElement('time');
  time.dateTime = file.expires_at;
  time.textContent = localTime(file.expires_at);
  const left = document.createElement('span');
  left.className = 'countdown';
  left.dataset.expires = file.expires_at;
  expires.append(time, ' ', left);
  const actions = cell('', 'Actions');
  actions.className = 'row-actions';
  const copyLink = button('Copy link', `Copy link of ${file.file_name}`);
  copyLink.addEventListener('click', () => copy(file.file_url, copyLink));
  const open = document.createElement('a');
  open.className = 'ghost button small';
  open.href = file.file_url;
  open.target = '_blank';
  open.rel = 'noopener noreferrer';
  open.textContent = 'Open';
  open.setAttribute('aria-label', counted ? `Open ${file.file_name}: uses one of its downloads (${downloads})` : `Open ${file.file_name}`);
  if (counted) open.title = `Uses one of its downloads (${downloads})`;
  const del = button('Delete', `Delete ${file.file_name}`, 'ghost small danger');
  del.addEventListener('click', (event) => remove(event, file, tr, del));
  actions.append(copyLink, open, del);
  tr.append(name, cell(file.upload_path, 'Folder', 'token'), cell(file.mime_type, 'Type', 'token'), cell(formatBytes(file.file_size), 'Size'),
    cell(localTime(file.upload_time), 'Uploaded'), expires, actions);
  return tr;
}

/** Delete asks once more on the same button (`confirmed`), then deletes. A file the server
 * no longer has (deleted elsewhere, or expired: 404) is gone all the same: its row goes,
 * and a page it leaves empty gives way to the files after it (or the page before).
 * An answer that comes after the tab moved to another key is dropped; one that comes after
 * the page was loaded again says so on the status line, and leaves focus where it is. */
async function remove(event, file, tr, del) {
  if (isBusy(del) || !confirmed(event, del, { text: 'Confirm delete', label: `Confirm delete of ${file.file_name}` })) return;
  // busy, not disabled: a disabled button would drop the keyboard's focus to the page
  setBusy(del, null, true);
  const c = client();
  const key = apiKey();
  const gone = (message) => {
    if (apiKey() !== key) return;
    refreshUsage();
    status.textContent = message;
    // its row, or the file's row on a page loaded since
    const shown = tr.isConnected ? tr : body.querySelector(`tr[data-file-id="${CSS.escape(file.file_id)}"]`);
    if (!shown) return;
    const focused = stillWaiting(shown);
    const sibling = shown.nextElementSibling ?? shown.previousElementSibling;
    shown.remove();
    // A page load already on its way (the pager pressed, the filter sent) replaces the
    // page anyway: no refill beside it.
    if (body.children.length === 0 && (pages.length > 1 || nextCursor) && !isBusy(prev)) {
      // The page emptied while there are files elsewhere: the files after it take its
      // place, or, its last page, the page before (focus as the pager would leave it).
      if (!nextCursor) pages.pop();
      load({ focus: focused ? [next, prev] : undefined, said: message });
      return;
    }
    $('files-empty').hidden = body.children.length > 0;
    if (focused) (sibling?.querySelector('.danger') ?? folder).focus();
  };
  try {
    await c.deleteFile(file.file_id);
    gone(`Deleted ${file.file_name}.`);
  } catch (err) {
    if (err.status === 404) {
      gone(`${file.file_name} was already gone (deleted elsewhere, or expired).`);
      return;
    }
    if (apiKey() !== key) return;
    setBusy(del, null, false);
    disarm(del);
    showError(err, fields(), errorBanner, { focus: stillWaiting(tr) });
  } finally {
    c.free();
  }
}

let usageRun = 0;

/** Empties the meters (no key's reading). */
function clearUsage() {
  for (const id of ['usage-bytes', 'usage-files']) $(id).value = 0;
  for (const id of ['usage-bytes-text', 'usage-files-text']) $(id).textContent = '–';
  delete $('usage').dataset.files;
  delete $('usage').dataset.bytes;
}

/** Reads the key's usage into the meters (the latest call wins). */
export async function refreshUsage() {
  if (!apiKey() || !(await ready)) return;
  const run = ++usageRun;
  const c = client();
  try {
    const u = await c.usage();
    if (run !== usageRun) return;
    const bytes = u.bytes + u.reserved_bytes;
    const count = u.files + u.reserved_files;
    $('usage-bytes').max = u.max_bytes || 1;
    $('usage-bytes').value = bytes;
    $('usage-files').max = u.max_files || 1;
    $('usage-files').value = count;
    // The meters show the room taken; the words say what of it uploads under way hold (a
    // job without a length holds what the quota leaves until it ends).
    const held = (n, text) => (n ? ` (+${text} in uploads under way)` : '');
    $('usage-bytes-text').textContent = `${formatBytes(u.bytes)}${held(u.reserved_bytes, formatBytes(u.reserved_bytes))} of ${formatBytes(u.max_bytes)}`;
    $('usage-files-text').textContent = `${u.files}${held(u.reserved_files, u.reserved_files)} of ${u.max_files} files`;
    $('usage').dataset.files = String(u.files);
    $('usage').dataset.bytes = String(u.bytes);
  } catch {
    // The listing (or the next action) shows why; the meter keeps this key's last reading.
  } finally {
    c.free();
  }
}

export function show() {
  if (apiKey()) load({ reset: !query });
}
