// The demo page: the form drives UploadClient (the urlstash-client package, built into
// ./pkg by `make pkg`) against this same origin, and shows the stored file.
import init, { UploadClient } from './pkg/urlstash.js';
import { formatBytes, formatCountdown } from './format.js';

const KEY_STORAGE = 'urlstash.apiKey';
const $ = (id) => document.getElementById(id);

/** The form's inputs by the client's option names, with their error elements. */
const FIELDS = {
  apiKey: { input: $('api-key'), error: $('api-key-error') },
  fileUrl: { input: $('file-url'), error: $('file-url-error') },
  uploadPath: { input: $('upload-path'), error: $('upload-path-error') },
  fileName: { input: $('file-name'), error: $('file-name-error') },
};

const form = $('upload-form');
const submit = $('submit');
const status = $('form-status');
const formError = $('form-error');
let countdownTimer = null;

const ready = init().then(
  () => true,
  (err) => {
    showFormError(`The client package could not load (${err.message}). Build it with: make pkg`);
    submit.disabled = true;
    return false;
  },
);

// The key lives in this tab's session storage only.
FIELDS.apiKey.input.value = sessionStorage.getItem(KEY_STORAGE) ?? '';
FIELDS.apiKey.input.addEventListener('input', () => {
  sessionStorage.setItem(KEY_STORAGE, FIELDS.apiKey.input.value.trim());
});

$('toggle-key').addEventListener('click', (event) => {
  const shown = FIELDS.apiKey.input.type === 'text';
  FIELDS.apiKey.input.type = shown ? 'password' : 'text';
  event.currentTarget.textContent = shown ? 'Show' : 'Hide';
  event.currentTarget.setAttribute('aria-pressed', String(!shown));
});

for (const { input } of Object.values(FIELDS)) {
  input.addEventListener('input', () => clearError(input));
}

function clearError(input) {
  const entry = Object.values(FIELDS).find((f) => f.input === input);
  input.removeAttribute('aria-invalid');
  entry.error.hidden = true;
  entry.error.textContent = '';
}

function clearErrors() {
  for (const { input } of Object.values(FIELDS)) clearError(input);
  formError.hidden = true;
  formError.textContent = '';
}

function showFormError(message) {
  formError.textContent = message;
  formError.hidden = false;
}

/** Puts an UploadError beside the field it concerns, or above the button. */
function showError(err) {
  const field = FIELDS[err.field];
  const prefix = err.status ? `${err.status}: ` : '';
  if (field) {
    field.error.textContent = err.message;
    field.error.hidden = false;
    field.input.setAttribute('aria-invalid', 'true');
    field.input.focus();
  } else {
    showFormError(`${prefix}${err.message}`);
  }
  status.textContent = `Not stored: ${err.message}`;
}

function setBusy(busy) {
  form.setAttribute('aria-busy', String(busy));
  submit.disabled = busy;
  submit.classList.toggle('busy', busy);
  submit.querySelector('.label').textContent = busy ? 'Fetching…' : 'Stash it';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors();
  if (!(await ready)) return;
  const apiKey = FIELDS.apiKey.input.value.trim();
  sessionStorage.setItem(KEY_STORAGE, apiKey);
  const options = { fileUrl: FIELDS.fileUrl.input.value.trim() };
  const uploadPath = FIELDS.uploadPath.input.value.trim();
  const fileName = FIELDS.fileName.input.value.trim();
  if (uploadPath) options.uploadPath = uploadPath;
  if (fileName) options.fileName = fileName;

  setBusy(true);
  $('result').hidden = true;
  clearInterval(countdownTimer);
  status.textContent = 'Fetching the file and storing it…';
  let client;
  try {
    client = new UploadClient({ baseUrl: location.origin, apiKey });
    const data = await client.uploadFromUrl(options);
    status.textContent = `Stored ${data.file_name}.`;
    showResult(data);
  } catch (err) {
    showError(err);
  } finally {
    client?.free();
    setBusy(false);
  }
});

function showResult(data) {
  $('result-title').textContent = data.file_name;
  $('result-type').textContent = data.mime_type;
  $('result-size').textContent = formatBytes(data.file_size);
  $('result-path').textContent = data.upload_path || '—';
  $('result-original').textContent = data.original_name;
  const expires = new Date(data.expires_at);
  const time = $('result-expires');
  time.dateTime = data.expires_at;
  time.textContent = expires.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  startCountdown(expires);

  $('file-url-out').value = data.file_url;
  $('file-url-open').href = data.file_url;
  $('download-url-out').value = data.download_url;
  $('download-url-open').href = data.download_url;
  $('copy-status').textContent = '';

  const preview = $('preview');
  const img = $('preview-img');
  if (data.mime_type.startsWith('image/')) {
    img.alt = `Preview of ${data.file_name}`;
    img.src = data.file_url;
    $('preview-caption').textContent = data.original_name;
    preview.hidden = false;
  } else {
    img.removeAttribute('src');
    preview.hidden = true;
  }
  const result = $('result');
  result.hidden = false;
  result.focus();
}

function startCountdown(expires) {
  clearInterval(countdownTimer);
  const out = $('result-countdown');
  const tick = () => {
    const left = expires.getTime() - Date.now();
    out.textContent = left > 0 ? `(in ${formatCountdown(left)})` : '(expired)';
    if (left <= 0) clearInterval(countdownTimer);
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
}

for (const button of document.querySelectorAll('button.copy')) {
  button.addEventListener('click', async () => {
    const input = $(button.dataset.copy);
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch {
      input.select();
      copied = document.execCommand?.('copy') ?? false;
    }
    $('copy-status').textContent = copied ? 'Link copied to the clipboard.' : 'Copy failed: the link is selected, press Ctrl+C.';
    button.textContent = copied ? 'Copied' : 'Copy';
    setTimeout(() => { button.textContent = 'Copy'; }, 1500);
  });
}

// The service's health, shown in the header.
ready.then(async (ok) => {
  const text = $('service-text');
  const service = $('service');
  if (!ok) {
    text.textContent = 'Client not loaded';
    service.dataset.state = 'down';
    return;
  }
  const client = new UploadClient({ baseUrl: location.origin, apiKey: '' });
  const up = await client.health();
  client.free();
  text.textContent = up ? 'Service online' : 'Service unreachable';
  service.dataset.state = up ? 'up' : 'down';
});
