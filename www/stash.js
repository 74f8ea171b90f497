// The Stash view: one URL or many (one per line) as an upload, a batch (up to 20 items per
// request) or background jobs with live progress; a card per URL, in order, where its
// result or its error shows.
import { $, clearErrors, clearOnInput, fieldError, isBusy, localTime, refreshCountdowns, setBusy, showError, stillWaiting, uniqueId } from './ui.js';
import { apiKey, client, inputs, ready } from './session.js';
import { formatBytes, formatDownloads, formatProgress } from './format.js';
import { refreshUsage } from './files.js';

const BATCH_ITEMS = 20; // core::batch::MAX_ITEMS
/** A batch's JSON stays under this: core::batch::MAX_BATCH_BODY_BYTES (64 KiB), with room
 * for the wire's longer field names. Every item repeats the options, origin headers too. */
const BATCH_BYTES = 60 * 1024;
const MAX_LINES = 100;
/** How often a job's progress is polled (up to 100 jobs side by side). */
const POLL_MS = 1500;
/** How long a job whose polls kept failing waits before it is asked again. */
const LOST_RETRY_MS = 15_000;

const form = $('stash-form');
const urls = $('file-urls');
const submit = $('stash-submit');
const status = $('stash-status');
const formError = $('stash-error');
const results = $('results');

// What Stash says while another view is shown (a job that ends, a long upload answered) is
// said in the footer's status line too, which every view shows: the view's own lines are
// hidden, and a screen reader reads nothing hidden.
for (const line of [status, formError]) {
  new MutationObserver(() => {
    if ($('view-stash').hidden && line.textContent) $('copy-status').textContent = `Stash: ${line.textContent}`;
  }).observe(line, { childList: true, characterData: true, subtree: true });
}

/** The inputs by the client's option names (an UploadError's `field`). Link options are
 * the `[data-option]` controls of #link-options, read by their `data-kind`: `number` sends
 * a number (a select's value too), `checkbox` sends `true` when checked, `headers` sends
 * `Name: value` lines as an object; others send their text. Blank ones are left out. */
const fields = () => {
  const byName = { apiKey: inputs.apiKey, fileUrl: urls };
  for (const input of form.querySelectorAll('[data-field]')) byName[input.dataset.field] = input;
  for (const input of form.querySelectorAll('[data-option]')) byName[input.dataset.option] = input;
  return byName;
};
$('link-options').hidden = !$('link-options').querySelector('[data-option]');

/** `Name: value` lines -> `{ Name: 'value' }` (a line without a colon is sent as a name
 * with an empty value, for the server to refuse in its own words). */
function headerLines(text) {
  const headers = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf(':');
    if (at < 0) headers[line] = '';
    else headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

/** The shared option (not the URL: several URLs share all the others) a batch item's
 * error names, as the server's message names it (`upload_path` -> `uploadPath`), or null. */
function sharedOptionOf(msg) {
  const named = msg.match(/`([a-z0-9_]+)`/)?.[1];
  const option = named?.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
  return option && option !== 'fileUrl' && Object.hasOwn(fields(), option) ? option : null;
}

/** Every option but the URL, as `uploadFromUrl` takes them; blank ones left out. `null`
 * (after placing the error) when a number field holds what is no number: left out, it
 * would silently mean "no limit". */
function sharedOptions() {
  const options = {};
  for (const [name, input] of Object.entries(fields())) {
    if (name === 'apiKey' || name === 'fileUrl') continue;
    if (input.validity?.badInput) {
      fieldError(input, 'Enter a whole number.');
      return null;
    }
    const kind = input.dataset.kind ?? input.type;
    if (kind === 'checkbox') {
      if (input.checked) options[name] = true;
    } else if (input.value.trim() !== '') {
      const text = input.value.trim();
      options[name] = kind === 'number' ? Number(text) : kind === 'headers' ? headerLines(text) : text;
    }
  }
  return options;
}

clearOnInput(form);

/** Where the keyboard was when the form was sent (its button, or the field Enter was
 * pressed in; the button when a click left focus on the page, as Safari's do): its results
 * and errors take focus only if it is still there ([`stillWaiting`]). */
let sentFrom = submit;

/** The lines of the submission under way: what is left in the box at its end replaces
 * them, and lines typed meanwhile stay ([`leaveInBox`]). */
let submitted = [];

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (isBusy(submit)) return;
  const at = document.activeElement;
  sentFrom = at && at !== document.body ? at : submit;
  clearErrors(form, formError);
  clearErrors(inputs.apiKey.closest('.field'));
  status.textContent = '';
  if (!(await ready)) return;
  // Checked again: another submit may have started while the client loaded (from here to
  // setBusy nothing waits).
  if (isBusy(submit)) return;
  const lines = boxLines();
  const options = sharedOptions();
  if (!options) return;
  const byName = fields();
  if (lines.length === 0) return fieldError(urls, 'Enter the URL of a file (one per line).');
  if (lines.length > MAX_LINES) return fieldError(urls, `At most ${MAX_LINES} URLs at once (${lines.length} given).`);
  for (const single of ['fileName', 'expectedSha256']) {
    if (lines.length > 1 && options[single]) {
      return fieldError(byName[single], 'Only for one URL: several files cannot share it.');
    }
  }
  const asJobs = $('as-job').checked;
  if (asJobs && options.originHeaders) {
    return fieldError(byName.originHeaders, 'Not for background jobs: a job would have to store these headers, and they are never stored.');
  }
  // Finished cards make room; running jobs stay.
  for (const card of [...results.children]) if (!card.dataset.running) card.remove();

  submitted = lines;
  setBusy(submit, results, true, asJobs ? 'Starting…' : 'Fetching…');
  status.textContent = lines.length === 1 ? 'Fetching the file and storing it…' : `Fetching ${lines.length} files…`;
  try {
    if (asJobs) await startJobs(lines, options);
    else if (lines.length === 1 && !unansweredBatch(lines, options)) await uploadOne(lines[0], options);
    else await uploadMany(lines, options);
  } finally {
    setBusy(submit, results, false, 'Stash');
  }
});

/** The calls the service did not answer (it may have done them all the same), by what they
 * sent: their `Idempotency-Key`. Sent again unchanged, a call goes with its key, and the
 * service answers with what the first send did rather than doing it twice. The oldest is
 * dropped past `UNANSWERED_KEPT`. */
const unanswered = new Map();
const UNANSWERED_KEPT = 100;

/** What a call of `kind` ('upload', 'batch' or 'job') asks, as text: what it sends, less
 * its origin headers, which the service leaves out of the comparison too (a retry may carry
 * a fresh token). */
const callOf = (kind, items) => `${kind} ${JSON.stringify(items, (name, value) => (name === 'originHeaders' ? undefined : value))}`;

/** A new `Idempotency-Key`: a UUID, or where the page's context has none (plain http on
 * another host than localhost), 128 random bits in hex. */
const newKey = () => globalThis.crypto.randomUUID?.()
  ?? Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

/** Sends a call of `kind` asking `items` with `send(idempotencyKey)`: the key of the same
 * call left unanswered, else a new one. The client itself sends a call whose answer was
 * lost again with its key; this covers the user sending it again after the client gave
 * up. A call that may have been done all the same (the client's `uncertain`: no answer, a
 * page not the service's, or its 500), or whose answer `unsettled` says is not final,
 * keeps its key for the next send, and so does a call sent with a kept key and refused as
 * a whole (a 429, say: it did nothing, so what the earlier send may have done stands); any
 * other answer ends it. */
async function sendKeyed(kind, items, send, unsettled = () => false) {
  const call = callOf(kind, items);
  const kept = unanswered.get(call);
  const key = kept ?? newKey();
  unanswered.delete(call);
  const keep = () => {
    unanswered.set(call, key);
    if (unanswered.size > UNANSWERED_KEPT) unanswered.delete(unanswered.keys().next().value);
  };
  let answer;
  try {
    answer = await send(key);
  } catch (err) {
    if (err.uncertain === true || kept !== undefined) keep();
    throw err;
  }
  if (unsettled(answer)) keep();
  return answer;
}

/** The start of the message of an item an earlier send with the batch's key still runs
 * (core::Error::IdempotencyKeyInFlight, 409; the batch's other 409, a later item having
 * stored the name, is final). */
const IN_FLIGHT = 'an upload with this Idempotency-Key is still running';

/** Whether a batch answer's item `r` may be stored yet: still run by an earlier send with the
 * batch's key (the client waits those out itself only when nothing else failed), or
 * answered 500 (done, maybe, and the answer lost on the server's side). Sent alone, or
 * with another key, such an item would be fetched and stored again; sent again as the
 * batch with its key, it is answered with what it stored. */
const unsettledItem = (r) => r.code === 500 || (r.code === 409 && r.msg.startsWith(IN_FLIGHT));
const unsettledItems = (batch) => batch.results.filter(unsettledItem).length;

/** The box's lines, trimmed, blank ones left out: what a submission sends. */
const boxLines = () => urls.value.split('\n').map((line) => line.trim()).filter(Boolean);

const NOT_ANSWERED = 'Not answered: it may have been stored. Stash it again as it is: the same request is answered with what was stored, never stored twice.';

async function uploadOne(fileUrl, options) {
  const c = client();
  const item = itemOf(fileUrl, options);
  try {
    const data = await sendKeyed('upload', item, (idempotencyKey) => c.uploadFromUrl({ ...item, idempotencyKey }));
    status.textContent = `Stored ${data.file_name}.`;
    results.append(resultCard(data));
    if (stillWaiting(sentFrom)) results.lastElementChild.focus();
    refreshUsage();
  } catch (err) {
    // The message itself goes beside its field or in the alert: said once.
    status.textContent = err.uncertain ? NOT_ANSWERED : 'Not stored.';
    showError(err, fields(), formError, { focus: stillWaiting(sentFrom) });
  } finally {
    c.free();
  }
}

/** An upload's options, a batch item's or a job start's: a line with the options all share. */
const itemOf = (fileUrl, options) => ({ fileUrl, ...options });

/** A batch's items. */
const itemsOf = (lines, options) => lines.map((fileUrl) => itemOf(fileUrl, options));

/** How many of the first `lines` were sent as one batch whose key is kept (0 if none): they
 * go as that batch again, with its key, so what it stored is answered, never stored twice. */
function unansweredBatch(lines, options) {
  if (unanswered.size === 0) return 0;
  for (let n = Math.min(BATCH_ITEMS, lines.length); n > 0; n -= 1) {
    if (unanswered.has(callOf('batch', itemsOf(lines.slice(0, n), options)))) return n;
  }
  return 0;
}

/** The lines in order, in batches the server takes: at most 20 items and 60 KiB of JSON.
 * Lines sent before as a batch whose key is kept (not answered, or not settled) go as that
 * batch, wherever they stand. */
function batchesOf(lines, options) {
  const encoder = new TextEncoder();
  const batches = [];
  let bytes = 0;
  let open = false; // whether the last batch takes more lines
  for (let i = 0; i < lines.length; i += 1) {
    const kept = unansweredBatch(lines.slice(i), options);
    if (kept) {
      batches.push(lines.slice(i, i + kept));
      open = false;
      i += kept - 1;
      continue;
    }
    const size = encoder.encode(JSON.stringify(itemOf(lines[i], options))).length + 1;
    const last = batches.at(-1);
    if (open && last.length < BATCH_ITEMS && bytes + size <= BATCH_BYTES) {
      last.push(lines[i]);
      bytes += size;
    } else {
      batches.push([lines[i]]);
      bytes = size;
      open = true;
    }
  }
  return batches;
}

/** "Retry in N s" for an answer's `Retry-After`, or nothing. */
const retryHint = (secs) => (secs ? ` The server asked to wait ${secs} s before sending them again.` : '');

/** Puts back in the box only `left` (the lines not stored or not started), so sending again
 * stores nothing twice, and says so in the status after `done`. Lines typed in the box
 * while the submission ran (any beyond those it sent) stay, after `left`. */
function leaveInBox(left, done, retryAfter) {
  // each line sent stands for one line of its text in the box: any more were typed
  const sent = new Map();
  for (const line of submitted) sent.set(line, (sent.get(line) ?? 0) + 1);
  const typed = boxLines().filter((line) => {
    const unmatched = sent.get(line) ?? 0;
    sent.set(line, unmatched - 1);
    return unmatched <= 0;
  });
  urls.value = [...left, ...typed].join('\n');
  const those = left.length === 1 ? 'that one is' : 'those are';
  status.textContent = `${done} ${those} left in the box to send again.${retryHint(retryAfter)}`;
}

/** `n` lines sent and not answered, which may have `done` all the same. */
function notAnswered(n, done) {
  const again = n === 1 ? `it may have ${done}: send it again as it is` : `they may have ${done}: send them again as they are`;
  return `${n} not answered (${again})`;
}

/** Items still running, or answered 500, in batches that go back whole. */
function notSettled(n, batches) {
  const lines = batches.reduce((sum, b) => sum + b.length, 0);
  const its = batches.length === 1 ? `its batch of ${lines} goes` : `their ${batches.length} batches of ${lines} lines go`;
  return `${n} not settled (still running or failed on the server: ${n === 1 ? 'it' : 'they'} may yet be stored, so ${its} back as sent, to send again as ${batches.length === 1 ? 'it is' : 'they are'})`;
}

/** After batches: `tally` says what they did (`stored`, `failed` and `unsure` items, the
 * last not settled, and the batches `held` back for them), `back` the lines answered that
 * go back in the box (the failed, and each batch with an unsettled item, whole), in order;
 * those not sent (from `sent` on) follow. The first `lost` of those were sent as a batch
 * and not answered: they go first, as they were, so that sent again they are that batch. */
function leaveUnstored(lines, sent, back, tally, retryAfter, lost = 0) {
  const unsent = lines.length - sent - lost;
  const { stored, failed, unsure, held } = tally;
  const count = `${stored} stored, ${failed} not stored${unsure ? `, ${notSettled(unsure, held)}` : ''}${lost ? `, ${notAnswered(lost, 'been stored')}` : ''}${unsent ? `, ${unsent} not sent` : ''}:`;
  leaveInBox([...lines.slice(sent, sent + lost), ...back, ...lines.slice(sent + lost)], count, retryAfter);
}

/** Batches of up to 20, in order: a card per line, stored or not. A batch the server was
 * too busy for (any item answered 503, with `Retry-After`) ends the sending: later
 * batches would meet the same. A batch with an item not settled goes back whole, its key
 * kept. */
async function uploadMany(lines, options) {
  const c = client();
  const tally = { stored: 0, failed: 0, unsure: 0, held: [] };
  let first = null; // this submission's first card, focused at the end
  let sent = 0; // lines whose batch was answered
  let retryAfter = null;
  const back = []; // lines answered that go back in the box, in order
  let inFlight = null; // the items of the batch being sent
  try {
    for (const chunk of batchesOf(lines, options)) {
      const at = sent;
      // A key per batch, as for one upload (the same one for the same items unanswered).
      const items = itemsOf(chunk, options);
      inFlight = items;
      const batch = await sendKeyed('batch', items, (idempotencyKey) => c.uploadFromUrls(items, { idempotencyKey }), unsettledItems);
      // One option all items share refused, for each of them alike: its error goes beside
      // that option, as for one URL, not on every URL's card.
      const [one] = batch.results;
      const option = one && !one.success && sharedOptionOf(one.msg);
      if (option && batch.results.every((r) => !r.success && r.msg === one.msg)) {
        throw Object.assign(new Error(one.msg), { status: one.code, field: option });
      }
      const unsure = unsettledItems(batch);
      batch.results.forEach((r, i) => {
        const verdict = unsettledItem(r) ? 'not settled' : 'not stored';
        const card = r.success ? resultCard(r.data) : failureCard(chunk[i], r.code, r.msg, at + i + 1, verdict);
        if (!r.success && !unsure) back.push(chunk[i]);
        first ??= card;
        results.append(card);
      });
      if (unsure) {
        back.push(...chunk);
        tally.held.push(chunk);
      }
      tally.unsure += unsure;
      tally.failed += batch.failed - unsure;
      tally.stored += batch.succeeded;
      sent = at + chunk.length;
      retryAfter = batch.retryAfter;
      if (retryAfter) break;
    }
  } catch (err) {
    // A batch as a whole was refused (the key, the rate, the network): beside its field.
    // What earlier batches stored stays stored: say so, and what was never sent.
    showError(err, fields(), formError, { focus: stillWaiting(sentFrom) });
    const lost = inFlight !== null && err.uncertain === true;
    if (sent === 0) {
      status.textContent = lost ? NOT_ANSWERED : 'Not stored.';
      return;
    }
    leaveUnstored(lines, sent, back, tally, err.retryAfter, lost ? inFlight.length : 0);
    refreshUsage();
    return;
  } finally {
    c.free();
  }
  if (back.length || sent < lines.length) {
    leaveUnstored(lines, sent, back, tally, retryAfter);
    const notStored = tally.failed + tally.unsure;
    if (notStored) {
      const what = tally.unsure ? 'were not stored or not settled' : 'were not stored';
      fieldError(urls, `${notStored} of ${lines.length} URLs ${what}: see ${notStored === 1 ? 'its card' : 'their cards'} below.`, { focus: false });
    }
  } else {
    status.textContent = `${tally.stored} stored, 0 not stored.`;
  }
  if (stillWaiting(sentFrom)) first?.focus();
  refreshUsage();
}

/** One job per line, started in order, then watched side by side. A refusal of the rate
 * or of a busy instance (429, 503) ends the starting: every later line would meet it. */
async function startJobs(lines, options) {
  let started = 0;
  let first = null; // this submission's first card (earlier jobs' cards may still run above)
  const failed = []; // lines refused or not answered, in order
  let lost = 0; // of those, the ones not answered (they may have started)
  let stop = null; // the refusal that ended the starting, and the line it met
  for (const [i, fileUrl] of lines.entries()) {
    const c = client();
    // A key per start: the client sends a start that failed in passing again, and the
    // service answers it with the job the first send started, never a second one; so
    // does a start not answered at all, sent again as it was.
    const item = itemOf(fileUrl, options);
    try {
      const job = await sendKeyed('job', item, (idempotencyKey) => c.startUpload({ ...item, idempotencyKey }));
      // its card, unless the running jobs' listing (a key just typed) put one there first
      const card = shownCard(job.job_id) ?? jobCard(job);
      first ??= card;
      results.append(card);
      started += 1;
    } catch (err) {
      const lostNow = err.uncertain === true;
      // The key or an option all jobs share (any field but the URL): beside its field, once.
      if (lines.length === 1 || (err.field && err.field !== 'fileUrl')) {
        showError(err, fields(), formError, { focus: stillWaiting(sentFrom) });
        stop = { err, at: i };
        break;
      }
      const verdict = lostNow ? 'not answered (it may have started)' : undefined;
      const card = failureCard(fileUrl, err.status, err.message, i + 1, verdict);
      first ??= card;
      results.append(card);
      failed.push(fileUrl);
      if (lostNow) lost += 1;
      if (err.status === 429 || err.status === 503) {
        stop = { err, at: i + 1 };
        break;
      }
    } finally {
      c.free();
    }
  }
  const jobs = `${started} job${started === 1 ? '' : 's'} started`;
  if (stop && started === 0 && failed.length === 0) {
    status.textContent = stop.err.uncertain ? JOB_NOT_ANSWERED : 'Not started.';
    return;
  }
  const unsent = stop ? lines.length - stop.at : 0;
  if (failed.length || unsent) {
    const refused = failed.length - lost;
    const parts = [jobs];
    if (refused || !lost) parts.push(`${refused} refused`);
    if (lost) parts.push(notAnswered(lost, 'started'));
    if (unsent) parts.push(`${unsent} not sent`);
    const count = `${parts.join(', ')}:`;
    leaveInBox([...failed, ...lines.slice(lines.length - unsent)], count, stop?.err.retryAfter);
  } else {
    status.textContent = `${jobs}.`;
  }
  if (stillWaiting(sentFrom)) first?.focus();
}

const JOB_NOT_ANSWERED = 'Not answered: it may have started. Stash it again as it is: the same start is answered with the job it started, never started twice.';

/** Fills `card`'s labels and inputs with fresh ids (cards are clones of one template). */
function wireLabels(card) {
  for (const input of card.querySelectorAll('input')) {
    input.id = uniqueId('link');
    const label = input.closest('.link')?.querySelector('label');
    if (label) label.htmlFor = input.id;
  }
}

/** The card of a stored file: preview, details, both links, the SHA-256, the countdown. */
function resultCard(data) {
  const card = $('result-template').content.firstElementChild.cloneNode(true);
  const set = (cls, text) => { card.querySelector(cls).textContent = text; };
  set('.result-title', data.file_name);
  set('.result-type', data.mime_type);
  card.querySelector('.result-type').title = data.mime_type;
  set('.result-size', formatBytes(data.file_size));
  set('.result-path', data.upload_path || '—');
  set('.result-original', data.original_name);
  set('.result-sha', data.sha256);
  const time = card.querySelector('.result-expires');
  time.dateTime = data.expires_at;
  time.textContent = localTime(data.expires_at);
  card.querySelector('.countdown').dataset.expires = data.expires_at;
  card.querySelector('.file-link').value = data.file_url;
  card.querySelector('.open').href = data.file_url;
  card.querySelector('.download-link').value = data.download_url;
  card.querySelector('.download').href = data.download_url;
  card.querySelector('.open').setAttribute('aria-label', `Open ${data.file_name}`);
  card.querySelector('.download').setAttribute('aria-label', `Download ${data.file_name}`);
  for (const button of card.querySelectorAll('button.copy')) {
    button.setAttribute('aria-label', `Copy the ${button.closest('.link').querySelector('.download-link') ? 'download' : 'file'} link of ${data.file_name}`);
  }
  wireLabels(card);
  const kind = data.mime_type.split('/')[0];
  const preview = card.querySelector('.preview');
  const media = { image: 'img', video: 'video', audio: 'audio' }[kind];
  if (media && data.max_downloads != null) {
    // Loading a preview would use up one of the file's counted downloads.
    const note = document.createElement('p');
    note.className = 'hint';
    note.textContent = 'No preview: it would use one of the file’s downloads.';
    preview.append(note);
    preview.hidden = false;
  } else if (media) {
    const el = document.createElement(media);
    el.src = data.file_url;
    if (media === 'img') el.alt = `Preview of ${data.file_name}`;
    else {
      el.controls = true;
      el.preload = 'metadata';
      el.setAttribute('aria-label', `Preview of ${data.file_name}`);
    }
    preview.append(el);
    preview.hidden = false;
  }
  // Link options (issue 14), when the file has them.
  const facts = card.querySelector('.facts');
  const fact = (term, value) => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = term;
    dd.textContent = value;
    div.append(dt, dd);
    facts.append(div);
  };
  if (data.max_downloads != null) fact('Downloads', formatDownloads(data.downloads, data.max_downloads));
  if (data.private) fact('Links', 'Private: signed, they stop working when the signature expires');
  card.dataset.fileId = data.file_id;
  queueMicrotask(refreshCountdowns);
  return card;
}

/** A URL that was not stored (or, `verdict` says, may not have been): the envelope's
 * words, in the URL's place. */
function failureCard(fileUrl, code, msg, line, verdict = 'not stored') {
  const card = $('failure-template').content.firstElementChild.cloneNode(true);
  card.querySelector('.eyebrow').textContent = `Line ${line}: ${verdict}${code ? ` (${code})` : ''}`;
  card.querySelector('.result-title').textContent = fileUrl;
  card.querySelector('.failure-msg').textContent = msg;
  return card;
}

/** A running job: progress (bytes, rate, time left) and Cancel; replaced by its result or
 * its error when it ends. */
function jobCard(job) {
  const card = $('job-template').content.firstElementChild.cloneNode(true);
  card.dataset.running = 'true';
  card.dataset.jobId = job.job_id;
  // A job the listing could not read is known by its id until a poll names its URL.
  const title = card.querySelector('.result-title');
  const source = job.file_url ?? job.job_id;
  title.textContent = source;
  const bar = card.querySelector('.job-progress');
  const text = card.querySelector('.job-text');
  const state = card.querySelector('.job-state');
  const cancel = card.querySelector('.job-cancel');
  bar.id = uniqueId('job');
  bar.setAttribute('aria-label', `Progress of ${source}`);
  cancel.setAttribute('aria-label', `Cancel the job for ${source}`);
  text.textContent = 'Waiting to start…';

  let sample = null; // the last poll with bytes: {at, bytes}
  let rate = 0; // bytes per second, smoothed
  let canceling = false; // asked to cancel: the polls until it ends keep saying so
  const progress = (j) => {
    state.textContent = j.state;
    if (title.textContent !== j.file_url) title.textContent = j.file_url;
    const now = performance.now();
    if (sample && j.bytes_received > sample.bytes) {
      const instant = ((j.bytes_received - sample.bytes) * 1000) / (now - sample.at);
      rate = rate ? rate * 0.6 + instant * 0.4 : instant;
    }
    if (!sample || j.bytes_received !== sample.bytes) sample = { at: now, bytes: j.bytes_received };
    if (j.total_bytes) {
      bar.max = j.total_bytes;
      bar.value = j.bytes_received;
    }
    card.dataset.bytes = String(j.bytes_received);
    // Every answered poll says where the job is (and so clears a "Connection lost").
    if (canceling) text.textContent = 'Canceling…';
    else if (j.state === 'queued') text.textContent = 'Waiting to start…';
    else text.textContent = formatProgress({ received: j.bytes_received, total: j.total_bytes, rate });
  };

  // The job's own key, for its polls and its cancel alike (the key field may change).
  const c = client();
  // Busy while its request runs, not disabled (which would drop the keyboard's focus to the
  // page); after a cancel it stays busy until the card ends. An answer that comes after the
  // card ended (a poll saw the job end first) leaves the card as it ended.
  const ended = () => !card.dataset.running || !card.isConnected;
  cancel.addEventListener('click', async () => {
    if (isBusy(cancel)) return;
    setBusy(cancel, null, true);
    try {
      await c.cancelJob(job.job_id);
      if (ended()) return;
      canceling = true;
      text.textContent = 'Canceling…';
      status.textContent = `Canceling the job for ${source}…`;
    } catch (err) {
      if (ended()) return;
      text.textContent = err.message;
      // the card's text is not read aloud as it changes (its progress would be, endlessly)
      status.textContent = `The job for ${source} was not canceled: ${err.message}`;
      setBusy(cancel, null, false);
    }
  });

  const succeeded = (done) => {
    c.free();
    const result = resultCard(done.result);
    const hadFocus = card.contains(document.activeElement);
    card.replaceWith(result);
    if (hadFocus) {
      result.tabIndex = -1;
      result.focus();
    }
    status.textContent = `Stored ${done.result.file_name}.`;
    refreshUsage();
  };
  const failed = (err) => {
    c.free();
    delete card.dataset.running;
    card.classList.add('failed');
    state.textContent = err.status === 409 ? 'canceled' : 'failed';
    card.querySelector('.eyebrow').textContent = err.status === 409 ? 'Canceled: nothing stored' : `Not stored (${err.status})`;
    text.textContent = err.message;
    text.classList.add('error');
    // Announced, and focus kept on the card when it was on its Cancel button.
    status.textContent = err.status === 409 ? 'The job was canceled: nothing stored.' : `A job ended without storing its file: ${err.message}`;
    if (document.activeElement === cancel) {
      card.tabIndex = -1;
      card.focus();
    }
    cancel.hidden = true;
    bar.hidden = true;
    // the room its transfer held is the key's again
    refreshUsage();
  };
  // The wait ends when the job does, or when its polls kept failing (the service or the
  // network away for a while): the job itself is asked which, and a job still running, or
  // one that cannot be asked yet, is watched again, never called failed for a lost poll.
  const watch = () => c.waitForJob(job.job_id, { intervalMs: POLL_MS, onProgress: progress }).then(succeeded, async (err) => {
    let now;
    try {
      now = await c.getJob(job.job_id);
    } catch (asked) {
      if (asked.status !== 0 && asked.status < 500 && asked.status !== 429) return failed(asked);
      text.textContent = `Connection lost (${asked.message}): trying again…`;
      document.dispatchEvent(new Event('urlstash:unreachable'));
      setTimeout(watch, LOST_RETRY_MS);
      return;
    }
    if (now.state === 'succeeded') return succeeded(now);
    if (now.state === 'canceled') return failed({ status: 409, message: 'the job was canceled' });
    if (now.state === 'failed') return failed({ status: now.error?.code ?? 500, message: now.error?.msg ?? 'the job failed' });
    watch();
  });
  watch();
  return card;
}

/** The card of job `jobId` among the results, if one is shown. */
const shownCard = (jobId) => results.querySelector(`[data-job-id="${jobId}"]`);

/** The key's jobs still running when the page loads (started before a reload, or in
 * another tab), or when a key is typed or chosen later: a card each, watched and
 * cancelable like the ones started here. */
async function resumeJobs() {
  const key = apiKey();
  if (!(await ready) || !key) return;
  let listed;
  try {
    const res = await fetch('/api/v1/jobs', { headers: { authorization: `Bearer ${key}` } });
    listed = res.ok ? (await res.json()).data : { jobs: [], unavailable: [] };
  } catch {
    return; // the service's own state shows in the header's indicator
  }
  if (apiKey() !== key) return; // another key's by now: its own listing follows
  // A running job whose status the listing could not read is watched too: its polls ask.
  const running = listed.jobs
    .filter((j) => ['queued', 'downloading', 'storing'].includes(j.state))
    .concat(listed.unavailable.map((jobId) => ({ job_id: jobId, state: 'queued' })));
  let found = 0; // the cards not shown yet
  for (const job of running.reverse()) {
    if (shownCard(job.job_id)) continue;
    results.append(jobCard(job));
    found += 1;
  }
  // said unless a submission is speaking on the status line meanwhile
  if (found && !isBusy(submit)) status.textContent = `${found} job${found === 1 ? '' : 's'} still running.`;
}
resumeJobs();
// A key typed after the page loaded (or chosen on the Keys view): its running jobs too,
// once the typing stops.
let keyTyped;
inputs.apiKey.addEventListener('input', () => {
  clearTimeout(keyTyped);
  keyTyped = setTimeout(resumeJobs, 500);
});
