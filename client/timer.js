// The client's waits (between polls, before a send again): resolves after `ms`, or as soon
// as `signal` (optional) aborts, the timer then cleared so that nothing is left pending.
// Imported by the client's Rust code (src/client/retry.rs); shipped under snippets/.
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      resolve();
      signal?.removeEventListener('abort', done);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}
