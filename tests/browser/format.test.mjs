// The web app's formatting (www/format.js), as a person reads it: sizes, countdowns, job
// progress. Plain Node: the module has no DOM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCountdown, formatDownloads, formatProgress, formatRate } from '../../www/format.js';

test('sizes: bytes, then binary multiples with one decimal under 10', () => {
  const cases = [[0, '0 bytes'], [1, '1 byte'], [1023, '1023 bytes'], [1024, '1.0 KB'], [1536, '1.5 KB'],
    [10 * 1024, '10 KB'], [5 * 1024 ** 2, '5.0 MB'], [1024 ** 3, '1.0 GB'], [2048 * 1024 ** 4, '2048 TB'],
    // shown as rounded: never "1024 KB" or "10.0 KB"
    [10_239, '10 KB'], [10_188, '9.9 KB'], [1024 ** 2 - 1, '1.0 MB'], [1024 ** 3 - 1, '1.0 GB'], [1023.6 * 1024, '1.0 MB'], [1023.4 * 1024, '1023 KB']];
  for (const [n, text] of cases) assert.equal(formatBytes(n), text, String(n));
});

test('countdowns drop leading zero units and never go negative', () => {
  const cases = [[0, '0 s'], [-5000, '0 s'], [59_999, '59 s'], [60_000, '1 min 0 s'], [3_600_000, '1 h 0 min 0 s'],
    [259_200_000 - 1000, '2 d 23 h 59 min 59 s']];
  for (const [ms, text] of cases) assert.equal(formatCountdown(ms), text, String(ms));
});

test('job progress: received of total, rate and time left when known', () => {
  const MiB = 1024 ** 2;
  assert.equal(formatProgress({ received: 0, total: null, rate: 0 }), '0 bytes received');
  assert.equal(formatProgress({ received: MiB, total: null, rate: 256 * 1024 }), '1.0 MB received · 256 KB/s');
  assert.equal(formatProgress({ received: MiB, total: 4 * MiB, rate: 256 * 1024 }), '1.0 MB of 4.0 MB · 256 KB/s · 12 s left');
  assert.equal(formatProgress({ received: MiB, total: 4 * MiB, rate: 0 }), '1.0 MB of 4.0 MB');
  assert.equal(formatRate(1.4), '1 byte/s');
});

test('downloads counted against a limit: none counted yet is 0', () => {
  assert.equal(formatDownloads(undefined, 3), '0 of 3');
  assert.equal(formatDownloads(null, 1), '0 of 1');
  assert.equal(formatDownloads(2, 3), '2 of 3');
});
