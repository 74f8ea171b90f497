// Ending a process group a test started detached (`make dev`, and the sample origin, node and
// workerd it runs): asked to stop, then killed whatever of it outlived the wait.

/** Sends `name` to `child`'s process group, gone already or not. */
function signal(child, name) {
  try {
    process.kill(-child.pid, name);
  } catch (err) {
    if (err.code !== 'ESRCH') throw err;
  }
}

/** SIGTERM to `child`'s group, up to `ms` for `child` to exit, then SIGKILL to the group. */
export async function endGroup(child, ms = 10_000) {
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const ended = exited() ? Promise.resolve() : new Promise((resolve) => { child.once('exit', resolve); });
  signal(child, 'SIGTERM');
  await Promise.race([ended, new Promise((resolve) => { setTimeout(resolve, ms).unref(); })]);
  signal(child, 'SIGKILL');
}
