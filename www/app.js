// The web app: three views (Stash, My files, Keys) over the urlstash-client package in
// ./pkg, on the same origin as the API. Routing by the URL's fragment (#stash, #files, #keys).
import { $, banner, clearOnInput } from './ui.js';
import { ready, client, adminToken, inputs } from './session.js';
import * as stash from './stash.js';
import * as files from './files.js';
import * as keys from './keys.js';

const VIEWS = { stash, files, keys };
const keysTab = $('keys-tab');

/** Shows the view named by the fragment (Stash by default; Keys only with an admin token).
 * Another fragment (the skip link's #main) leaves the view as it is. */
function route({ focus = false } = {}) {
  const asked = location.hash.slice(1);
  let name = asked;
  const known = Object.hasOwn(VIEWS, name);
  if (!known && document.querySelector('.view:not([hidden])')) return;
  if (!known || (name === 'keys' && !adminToken())) name = 'stash';
  // The address names the view shown (#keys without a token shows Stash): else the Keys tab,
  // once a token is typed, would link to the fragment already there and change nothing.
  if (asked && asked !== name) history.replaceState(null, '', `#${name}`);
  for (const [view, module] of Object.entries(VIEWS)) {
    const shown = view === name;
    const section = $(`view-${view}`);
    const wasShown = !section.hidden;
    section.hidden = !shown;
    if (shown && !wasShown) module.show?.();
  }
  for (const link of document.querySelectorAll('nav [data-view]')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${$(`${name}-title`).textContent} · urlstash`;
  if (focus) {
    const heading = $(`${name}-title`);
    heading.tabIndex = -1;
    heading.focus();
  }
}

function showKeysTab() {
  keysTab.hidden = !adminToken();
}

/** Leaves the Keys view once the token is gone: when the field is left empty, not at the
 * keystroke that empties it (replacing a token would otherwise move focus off the field).
 * The view may be open under another fragment (the skip link's #main). The view changes,
 * the keyboard's place does not: the user left the field for the control they went to. */
function leaveKeysWithoutToken() {
  showKeysTab();
  if (keysTab.hidden && !$('view-keys').hidden) {
    history.replaceState(null, '', '#stash');
    route();
    // a click that left the field for something in the Keys view, hidden now, found
    // nothing to focus: then the Stash heading takes it, not the page
    setTimeout(() => {
      const at = document.activeElement;
      if (!at || at === document.body || at.closest('.view[hidden]')) route({ focus: true });
    });
  }
}

clearOnInput(document.querySelector('.access'));
inputs.adminToken.addEventListener('input', showKeysTab);
// Another token: what the old one listed or revealed goes, and the keys are listed again
// (when the Keys view is open).
inputs.adminToken.addEventListener('change', () => {
  keys.forget();
  leaveKeysWithoutToken();
  if (adminToken() && !$('view-keys').hidden) keys.show();
});
window.addEventListener('hashchange', () => route({ focus: true }));

/** Asks the service's health and shows it in the header. */
async function checkService() {
  const probe = client();
  const up = await probe.health();
  probe.free();
  $('service-text').textContent = up ? 'Service online' : 'Service unreachable';
  $('service').dataset.state = up ? 'up' : 'down';
  return up;
}

/** After a request got no answer: the indicator is checked again, and while the service
 * stays away, every 15 s until it is back. */
let rechecking = false;
document.addEventListener('urlstash:unreachable', async () => {
  if (rechecking) return;
  rechecking = true;
  while (!(await checkService())) await new Promise((resolve) => setTimeout(resolve, 15_000));
  rechecking = false;
});

ready.then(async (ok) => {
  const text = $('service-text');
  const service = $('service');
  if (!ok) {
    banner($('app-error'), 'The client package could not load. Build it with: make pkg');
    for (const button of document.querySelectorAll('button[type="submit"]')) button.disabled = true;
    text.textContent = 'Client not loaded';
    service.dataset.state = 'down';
    return;
  }
  showKeysTab();
  route();
  await checkService();
});
