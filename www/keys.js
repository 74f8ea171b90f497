// The Keys view (operators, with the admin token): create a key with a quota, list keys,
// change a quota, disable/enable, delete every file of a key, revoke, issue or rotate the
// webhook secret (the take-down form and the blocklist have their own modules). Plain fetch to /api/v1/admin/keys; a new key or secret is shown once, with a copy button.
import { $, banner, button, cell as td, clearErrors, clearOnInput, confirmed, disarm, fieldError, isBusy, localTime, pagedTable, setBusy, showError, stillWaiting, uniqueId, whileBusy } from './ui.js';
import { admin, adminPage, inputs, useKey } from './session.js';
import { formatBytes } from './format.js';
import * as takedown from './takedown.js';
import * as blocklist from './blocklist.js';

const MiB = 1024 * 1024;
const form = $('key-form');
const body = $('keys-body');
const status = $('keys-status');
const errorBanner = $('keys-error');
const more = $('keys-more');
const secret = $('secret');

const formFields = () => ({
  adminToken: inputs.adminToken, name: $('key-name'), max_bytes: $('key-max-mib'), max_files: $('key-max-files'),
});

clearOnInput(form);
clearOnInput(body);

/** A quota input's value for the API: blank is null (the default), MiB become bytes
 * (rounded to a byte). What is no number (the browser then shows the value as blank), or a
 * part of a file, goes as typed, for the server's 400 beside the field, never as "the
 * default" or a rounded count. */
function quota(input, scale = 1) {
  if (input.validity?.badInput) return 'not a number';
  const text = input.value.trim();
  if (text === '') return null;
  const n = Number(text);
  if (!Number.isFinite(n)) return text;
  return scale === 1 ? n : Math.round(n * scale);
}

/** The most MiB a storage quota may be: the server takes up to 2^53 - 1 bytes. */
const MAX_MIB = Math.floor(Number.MAX_SAFE_INTEGER / MiB);

/** A storage quota input's value in bytes (blank: null, the default). What is no number or
 * out of range is refused here, in MiB: the server's words would count bytes. */
function storageQuota(input) {
  const bytes = quota(input, MiB);
  if (bytes === null || (typeof bytes === 'number' && bytes >= 0 && bytes <= MAX_MIB * MiB)) return bytes;
  throw Object.assign(new Error(`Enter a number of MiB from 0 to ${MAX_MIB}, or leave it blank for the default.`), { status: 400, field: 'max_bytes' });
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const submit = $('key-submit');
  if (isBusy(submit)) return;
  clearErrors(form, $('key-error'));
  clearErrors(inputs.adminToken.closest('.field'));
  setBusy(submit, null, true);
  try {
    const key = await admin('POST', '/keys', {
      name: $('key-name').value,
      max_bytes: storageQuota($('key-max-mib')),
      max_files: quota($('key-max-files')),
    });
    showSecret(`New key “${key.name}”`, key.key, { usable: true });
    $('key-status').textContent = `Created ${key.key_id}.`;
    form.reset();
    body.prepend(row(key));
    counted();
  } catch (err) {
    showError(err, formFields(), $('key-error'));
  } finally {
    setBusy(submit, null, false);
  }
});

/** Shows a plaintext key or secret once, focused, with its copy button. */
function showSecret(title, value, { usable = false } = {}) {
  $('secret-title').textContent = title;
  $('secret-value').value = value;
  const use = $('secret-use');
  use.hidden = !usable;
  use.onclick = () => {
    useKey(value);
    status.textContent = 'The new key is now this tab’s API key.';
  };
  secret.hidden = false;
  secret.focus();
}

const table = pagedTable({
  body,
  more,
  page: async (after) => {
    clearErrors(inputs.adminToken.closest('.field'));
    banner(errorBanner, null);
    return adminPage('/keys', 'keys', after);
  },
  row,
  // A key created here is already listed at the top; a later page may bring it again.
  id: (key) => key.key_id,
  rowId: (tr) => tr.dataset.keyId,
  done: counted,
  landing: status,
  // What is shown stays (a key or secret shown only this once above all): another token
  // forgets it (`app.js`), a failed listing does not.
  failed: (err) => showError(err, { adminToken: inputs.adminToken }, errorBanner),
});

/** Forgets what another token listed or revealed: the rows, the next page, and a key or
 * secret still shown "only this once". */
export function forget() {
  takedown.forget();
  blocklist.forget();
  table.reset();
  $('keys-empty').hidden = true;
  status.textContent = '';
  secret.hidden = true;
  $('secret-value').value = '';
}

/** The empty note and the count line, after the rows changed. */
function counted() {
  const n = body.querySelectorAll('tr:not([data-revoked])').length;
  $('keys-empty').hidden = body.children.length > 0;
  status.textContent = `${n}${more.hidden ? '' : '+'} key${n === 1 ? '' : 's'} listed.`;
}

const quotaText = (k) => `${formatBytes(k.max_bytes)}${k.max_bytes_default ? ' (default)' : ''} · ${k.max_files} files${k.max_files_default ? ' (default)' : ''}`;

/** The ids of keys revoked from this page. A revoke is final, but the listing is KV's,
 * which may show a key as it was for up to a minute after: such a row shows revoked still. */
const revokedHere = new Set();

/** A key's row: name, id, created, status, quota, and its actions. */
function row(key) {
  const tr = document.createElement('tr');
  tr.dataset.keyId = key.key_id;
  const name = document.createElement('th');
  name.scope = 'row';
  name.className = 'token';
  name.dataset.label = 'Name';
  name.textContent = key.name;
  const state = td(key.disabled ? 'disabled' : 'active', 'Status');
  state.className = key.disabled ? 'state off' : 'state on';
  const quotaCell = td(quotaText(key), 'Quota');
  const actions = td('', 'Actions');
  actions.className = 'row-actions';
  const edit = button('Change quota', `Change quota of ${key.name}`);
  const toggle = button(key.disabled ? 'Enable' : 'Disable', `${key.disabled ? 'Enable' : 'Disable'} ${key.name}`);
  const webhook = button('Webhook secret', `Webhook secret of ${key.name}: issue or rotate`);
  const purge = button('Delete files', `Delete files of ${key.name}`, 'ghost small danger');
  const revoke = button('Revoke', `Revoke ${key.name}`, 'ghost small danger');
  actions.append(edit, toggle, webhook, purge, revoke);
  tr.append(name, td(key.key_id, 'Key id', 'token'), td(localTime(key.created), 'Created'), state, quotaCell, actions);

  const fail = (err, place) => {
    if (err.field === 'adminToken') showError(err, { adminToken: inputs.adminToken }, errorBanner);
    else if (place) fieldError(place, err.message);
    else showError(err, {}, errorBanner); // no answer: said as such, and the header looks again
  };

  edit.addEventListener('click', () => editQuota(key, quotaCell, edit, (updated) => Object.assign(key, updated), fail));
  // Each action runs one at a time (`whileBusy`: the button keeps the keyboard's focus).
  toggle.addEventListener('click', () => whileBusy(toggle, async () => {
    try {
      Object.assign(key, await admin('PATCH', `/keys/${key.key_id}`, { disabled: !key.disabled }));
      state.textContent = key.disabled ? 'disabled' : 'active';
      state.className = key.disabled ? 'state off' : 'state on';
      toggle.textContent = key.disabled ? 'Enable' : 'Disable';
      toggle.setAttribute('aria-label', `${toggle.textContent} ${key.name}`);
      status.textContent = `${key.name} is ${key.disabled ? 'disabled' : 'enabled'}.`;
    } catch (err) {
      fail(err);
    }
  }));
  // One rotation at a time: a second would replace the secret this one shows.
  webhook.addEventListener('click', () => whileBusy(webhook, async () => {
    try {
      const issued = await admin('POST', `/keys/${key.key_id}/webhook-secret`);
      showSecret(`Webhook secret of “${key.name}”`, issued.webhook_secret);
      status.textContent = `New webhook secret for ${key.name}; the previous one no longer signs.`;
    } catch (err) {
      fail(err);
    }
  }));
  purge.addEventListener('click', (event) => {
    if (isBusy(purge) || !confirmed(event, purge, { text: 'Confirm delete', label: `Confirm delete of every file of ${key.name}` })) return;
    whileBusy(purge, async () => {
      try {
        const { files, bytes, pending } = await admin('DELETE', `/keys/${key.key_id}/files`);
        const done = pending ? `${pending} still being deleted, within a minute` : 'their links no longer serve';
        status.textContent = `Deleted ${files} file${files === 1 ? '' : 's'} (${formatBytes(bytes)}) of ${key.name}: ${done}.`;
      } catch (err) {
        fail(err);
      } finally {
        disarm(purge);
      }
    });
  });
  revoke.addEventListener('click', async (event) => {
    if (isBusy(revoke) || !confirmed(event, revoke, { text: 'Confirm revoke', label: `Confirm revoke of ${key.name}` })) return;
    setBusy(revoke, null, true);
    const revoked = (said) => {
      const focused = stillWaiting(tr);
      revokedHere.add(key.key_id);
      showRevoked();
      counted();
      status.textContent = `${said} Its files serve until they expire, unless you delete them.`;
      if (focused) purge.focus();
    };
    try {
      await admin('DELETE', `/keys/${key.key_id}`);
      revoked(`Revoked ${key.name}: it is refused from now on.`);
    } catch (err) {
      // Revoked already (in another tab, or by another operator): the same end.
      if (err.status === 404) return revoked(`${key.name} was revoked already.`);
      setBusy(revoke, null, false);
      disarm(revoke);
      fail(err);
    }
  });
  // The row stays, with the one action left for a revoked key: its files keep serving
  // until they expire.
  function showRevoked() {
    tr.dataset.revoked = 'true';
    state.textContent = 'revoked';
    state.className = 'state off';
    for (const b of [edit, toggle, webhook, revoke]) b.remove();
  }
  if (revokedHere.has(key.key_id)) showRevoked();
  return tr;
}

/** Replaces the quota cell with a small form: MiB and files (blank: the default). */
function editQuota(key, cell, edit, updated, fail) {
  const editor = document.createElement('form');
  editor.className = 'quota-editor';
  editor.noValidate = true;
  const input = (label, value, field) => {
    const wrap = document.createElement('div');
    wrap.className = 'field';
    const id = uniqueId('quota');
    const l = document.createElement('label');
    l.htmlFor = id;
    l.textContent = label;
    const i = document.createElement('input');
    Object.assign(i, { id, type: 'number', min: 0, step: 'any', inputMode: 'numeric' });
    i.defaultValue = value;
    i.dataset.field = field;
    i.setAttribute('aria-describedby', `${id}-error`);
    const e = document.createElement('p');
    e.className = 'error';
    e.id = `${id}-error`;
    e.hidden = true;
    wrap.append(l, i, e);
    editor.append(wrap);
    return i;
  };
  const mib = input('Storage, MiB (blank: default)', key.max_bytes_default ? '' : String(key.max_bytes / MiB), 'max_bytes');
  const files = input('Files (blank: default)', key.max_files_default ? '' : String(key.max_files), 'max_files');
  const save = button('Save', `Save the quota of ${key.name}`, 'primary small');
  save.type = 'submit';
  const cancel = button('Cancel', 'Cancel the quota change');
  const buttons = document.createElement('div');
  buttons.className = 'actions';
  buttons.append(save, cancel);
  editor.append(buttons);
  const done = () => {
    cell.textContent = quotaText(key);
    edit.hidden = false;
    edit.focus();
  };
  cancel.addEventListener('click', done);
  editor.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(editor);
    try {
      // Only what was changed: the other quota as this row shows it may be stale (another
      // operator's change since the list was read), and sending it would undo that change.
      const body = {};
      if (mib.value !== mib.defaultValue) body.max_bytes = storageQuota(mib);
      if (files.value !== files.defaultValue) body.max_files = quota(files);
      if (Object.keys(body).length === 0) return done();
      updated(await admin('PATCH', `/keys/${key.key_id}`, body));
      status.textContent = `Quota of ${key.name}: ${quotaText(key)}.`;
      done();
    } catch (err) {
      fail(err, err.field === 'max_files' ? files : err.field === 'max_bytes' ? mib : null);
    }
  });
  cell.replaceChildren(editor);
  edit.hidden = true;
  mib.focus();
}

export function show() {
  table.load();
  blocklist.load();
}
