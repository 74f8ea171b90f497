// Formatting for the web app: sizes, rates and durations as people read them.

/** `1536` -> `1.5 KB` (binary multiples, labelled the usual way). */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  // The unit is chosen by the value as shown: 1,048,575 bytes is 1.0 MB, not 1024 KB.
  const shown = (value) => value.toFixed(value < 9.95 ? 1 : 0);
  let value = bytes / 1024;
  let unit = 0;
  while (Number(shown(value)) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${shown(value)} ${units[unit]}`;
}

/** A file's downloads counted against its limit: `1 of 3` (none counted yet: `0 of 3`). */
export const formatDownloads = (used, max) => `${used ?? 0} of ${max}`;

/** Milliseconds left -> `2 d 23 h 59 min 58 s` (leading zero units dropped). */
export function formatCountdown(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n || parts.length) parts.push(`${n} ${unit}`);
  }
  parts.push(`${s} s`);
  return parts.join(' ');
}

/** Bytes per second -> `256 KB/s`. */
export const formatRate = (bytesPerSecond) => `${formatBytes(Math.round(bytesPerSecond))}/s`;

/** `{received, total, rate}` of a job -> `1.2 MB of 5.0 MB · 256 KB/s · 12 s left`. */
export function formatProgress({ received, total, rate }) {
  const parts = [total ? `${formatBytes(received)} of ${formatBytes(total)}` : `${formatBytes(received)} received`];
  if (rate > 0) {
    parts.push(formatRate(rate));
    if (total) parts.push(`${formatCountdown(((total - received) / rate) * 1000)} left`);
  }
  return parts.join(' · ');
}
