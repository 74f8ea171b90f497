// What every view shares: errors beside their fields, busy buttons, copy buttons, the
// expiry countdowns, secrets shown and hidden.
import { formatCountdown } from './format.js';

export const $ = (id) => document.getElementById(id);

/** Whether the keyboard's place is still where the user left it to wait for an action on
 * `from` (on it or inside it), or nowhere (the page itself, as when its row went): only then
 * may the action's end move it. A user who went on elsewhere meanwhile (typing the next
 * URLs, a filter) keeps their place: their next key press never lands on a moved button. */
export function stillWaiting(from) {
  const at = document.activeElement;
  return !at || at === document.body || from.contains(at);
}

/** The error element of an input: `<p class="error" id="{input id}-error">`. */
const errorOf = (input) => $(`${input.id}-error`);

/** Shows `message` beside `input`, marks it invalid and (with `focus`) moves focus there. */
export function fieldError(input, message, { focus = true } = {}) {
  const error = errorOf(input);
  error.textContent = message;
  error.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  if (!focus) return;
  // A field that has focus already (the form was submitted from it) is focused afresh, so
  // a screen reader reads its new description, the error.
  if (document.activeElement === input) input.blur();
  input.focus();
}

function clearFieldError(input) {
  const error = errorOf(input);
  if (!error) return;
  input.removeAttribute('aria-invalid');
  error.hidden = true;
  error.textContent = '';
}

/** Clears every field error in `root`, and its banner. */
export function clearErrors(root, banner) {
  for (const input of root.querySelectorAll('[aria-invalid]')) clearFieldError(input);
  if (banner) banner.hidden = true;
}

/** A banner (`role="alert"`) with `message`, or hidden for null. */
export function banner(el, message) {
  el.textContent = message ?? '';
  el.hidden = !message;
}

/** Editing a field clears its error. */
export function clearOnInput(root) {
  root.addEventListener('input', (event) => {
    if (event.target.matches?.('input, textarea, select')) clearFieldError(event.target);
  });
}

/** Puts an error beside the input `inputs[err.field]` or, for no such field, in `fallback`
 * (prefixed with the status). The message is the envelope's `msg`, word for word. With
 * `focus` false the keyboard stays where it is (the user went on elsewhere meanwhile). */
export function showError(err, inputs, fallback, { focus = true } = {}) {
  // No answer at all: the header's service indicator looks again (app.js).
  if (err.status === 0) document.dispatchEvent(new Event('urlstash:unreachable'));
  const input = inputs[err.field];
  if (input) {
    fieldError(input, err.message, { focus });
  } else {
    banner(fallback, err.status ? `${err.status}: ${err.message}` : err.message);
  }
}

/** Marks `button` unavailable and shows its spinner while `busy`; `aria-busy` on `region`,
 * the content the request replaces, never an element holding the status or alert that
 * speaks of it (a screen reader may hold back what a busy subtree says until it is done).
 * `aria-disabled`, not `disabled`: a disabled button loses focus (to the page), so a
 * keyboard user's place would be lost for the whole request; its form's submit handler
 * checks [`isBusy`] instead. */
export function setBusy(button, region, busy, label) {
  region?.setAttribute('aria-busy', String(busy));
  button.setAttribute('aria-disabled', String(busy));
  button.classList.toggle('busy', busy);
  const text = button.querySelector('.label');
  if (text && label) text.textContent = label;
}

/** Whether `button` is marked busy by [`setBusy`] (its request still running). */
export const isBusy = (button) => button.getAttribute('aria-disabled') === 'true';

/** Runs `action`, one at a time for `button`: marked busy meanwhile ([`setBusy`], so a
 * keyboard user's focus stays on it), a click while it runs ignored. */
export async function whileBusy(button, action) {
  if (isBusy(button)) return;
  setBusy(button, null, true);
  try {
    await action();
  } finally {
    setBusy(button, null, false);
  }
}

/** How long a destructive button stays armed for its confirming click when nothing else
 * disarms it (a mouse user's click may leave no focus to lose): long enough for anyone to
 * read what it asks (WCAG 2.2.1), short enough that a click much later is not taken for it. */
const CONFIRM_MS = 30_000;

/** What disarms each armed button: its timer and its listeners, dropped together. */
const arming = new WeakMap();

/** A destructive button asks once more on itself (no modal dialog): the first click arms it
 * (`text`, `label` ask to confirm, and the footer's status line says so aloud), and only a
 * later, separate click is the confirmation: a double-click's second click is not
 * (`event.detail` counts the clicks of one gesture; keyboard activation is 0). Moving away
 * from it, Escape or [`CONFIRM_MS`] disarm it. Answers whether this click confirms. */
export function confirmed(event, button, { text, label }) {
  if (button.dataset.confirm === 'true') {
    if (event.detail >= 2) return false;
    unask(button); // answered
    return true;
  }
  button.dataset.confirm = 'true';
  button.dataset.before = button.textContent;
  button.dataset.beforeLabel = button.getAttribute('aria-label') ?? '';
  button.textContent = text;
  button.setAttribute('aria-label', label);
  button.dataset.asked = `${label}? Press it again to confirm; Escape or moving away keeps it.`;
  $('copy-status').textContent = button.dataset.asked;
  const stop = new AbortController();
  const off = () => {
    if (button.isConnected && !isBusy(button)) disarm(button);
  };
  const timer = setTimeout(off, CONFIRM_MS);
  stop.signal.addEventListener('abort', () => clearTimeout(timer));
  button.addEventListener('blur', off, { signal: stop.signal });
  button.addEventListener('keydown', (e) => { if (e.key === 'Escape') off(); }, { signal: stop.signal });
  arming.set(button, stop);
  return false;
}

/** Clears the footer's question of an armed `button`, unless something else was said
 * there since. */
function unask(button) {
  if ($('copy-status').textContent === button.dataset.asked) $('copy-status').textContent = '';
}

/** Puts an armed button back as it was (moved away from, its time ran out, or its action
 * failed). */
export function disarm(button) {
  if (button.dataset.confirm !== 'true') return;
  arming.get(button)?.abort();
  arming.delete(button);
  unask(button);
  button.dataset.confirm = '';
  button.textContent = button.dataset.before;
  button.setAttribute('aria-label', button.dataset.beforeLabel);
}

/** Copies `text` the older way, for a browser that refuses the Clipboard API (plain http
 * off localhost, a permission denied): selected in `input`, or, with none (a row's Copy
 * link), handed to the copy command's own event, so no element is made and focus stays. */
function copyByCommand(text, input) {
  const put = (event) => {
    event.clipboardData.setData('text/plain', text);
    event.preventDefault();
  };
  if (input) input.select();
  else document.addEventListener('copy', put, { once: true });
  try {
    return document.execCommand?.('copy') ?? false;
  } catch {
    return false;
  } finally {
    document.removeEventListener('copy', put);
  }
}

/** Copies `text`, says so in the footer's status line and on the button for a moment. */
export async function copy(text, button, input) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    copied = copyByCommand(text, input);
  }
  $('copy-status').textContent = copied ? 'Copied to the clipboard.'
    : input ? 'Copy failed: the text is selected, press Ctrl+C.' : 'Copy failed: the browser refused the clipboard.';
  // The label from before the first click (a second click must not keep 'Copied').
  button.dataset.label ??= button.textContent;
  const { label } = button.dataset;
  button.textContent = copied ? 'Copied' : label;
  clearTimeout(Number(button.dataset.restore));
  button.dataset.restore = String(setTimeout(() => { button.textContent = label; }, 1500));
}

// Copy buttons anywhere: `data-copy="input id"`, or the input before the button.
document.addEventListener('click', (event) => {
  const button = event.target.closest?.('button.copy');
  if (!button) return;
  const input = button.dataset.copy ? $(button.dataset.copy) : button.previousElementSibling;
  const text = button.dataset.text ?? input?.value ?? '';
  copy(text, button, input);
});

// Show/Hide buttons of secret inputs: `data-toggle-secret="input id"`. The visible word
// changes; the button's name also says which secret ("Show API key", "Hide admin token").
for (const button of document.querySelectorAll('[data-toggle-secret]')) {
  button.addEventListener('click', () => {
    const input = $(button.dataset.toggleSecret);
    const shown = input.type === 'text';
    input.type = shown ? 'password' : 'text';
    button.querySelector('.label').textContent = shown ? 'Show' : 'Hide';
  });
}

// One timer for every countdown on the page: `<span class="countdown" data-expires="ISO">`.
function tick() {
  for (const out of document.querySelectorAll('.countdown[data-expires]')) {
    const left = Date.parse(out.dataset.expires) - Date.now();
    out.textContent = left > 0 ? `(in ${formatCountdown(left)})` : '(expired)';
  }
}
setInterval(tick, 1000);
export const refreshCountdowns = tick;

/** A local date and time people read, e.g. `Nov 29, 2026, 6:40 PM`. */
export const localTime = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

let ids = 0;
/** A fresh id for elements cloned from templates. */
export const uniqueId = (prefix) => `${prefix}-${++ids}`;

/** A table cell with `text` (and `className`), labelled for the stacked layout at phone width. */
export function cell(text, label, className = '') {
  const td = document.createElement('td');
  td.textContent = text;
  td.dataset.label = label;
  td.className = className;
  return td;
}

/** A row's action button: visible `text`, spoken `label`. */
export function button(text, label, cls = 'ghost small') {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = text;
  b.setAttribute('aria-label', label);
  return b;
}

/** A table listed page after page, each appended under the ones before (`more` asks for
 * the next). `page(cursor)` answers `{ items, cursor }` (cursor null: the first page);
 * `row(item)` makes an item's row, and `id(item)` / `rowId(tr)` tell items apart, so an
 * item shown already (added here, then listed) is not shown twice. An answer to a listing
 * that a later one (or `reset`) overtook is dropped. `done()` runs after the rows changed,
 * `failed(err)` on a listing's error. When the last page came and `more` had the keyboard's
 * focus, focus goes to the first new row's first button, else to `landing` (focusable). */
export function pagedTable({ body, more, page, row, id, rowId, done, failed, landing }) {
  let cursor = null;
  let loads = 0;
  async function load({ append = false } = {}) {
    const run = ++loads;
    try {
      const answer = await page(append ? cursor : null);
      if (run !== loads) return;
      cursor = answer.cursor;
      const listed = new Set([...body.children].map(rowId));
      const rows = answer.items.filter((item) => !append || !listed.has(id(item))).map(row);
      if (append) body.append(...rows);
      else body.replaceChildren(...rows);
      const focused = document.activeElement === more;
      more.hidden = !cursor;
      done();
      // A hidden button drops the keyboard's place to the page.
      if (focused && more.hidden) (rows[0]?.querySelector('button') ?? landing).focus();
    } catch (err) {
      if (run === loads) failed(err);
    }
  }
  // One page at a time: a second click would append the same page again. Marked busy, not
  // disabled, so the keyboard's focus stays on the button (`setBusy`).
  more.addEventListener('click', () => whileBusy(more, () => load({ append: true })));
  return {
    load,
    /** Drops the rows and any listing under way. */
    reset() {
      loads += 1;
      cursor = null;
      body.replaceChildren();
      more.hidden = true;
    },
    /** Which listing is the latest: compare before and after an await. */
    generation: () => loads,
  };
}
