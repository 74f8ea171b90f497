// Runs a command without blocking the event loop (the loopback origin lives in this process).
import { spawn } from 'node:child_process';

/** Resolves `{code, out}` (stdout and stderr interleaved). */
export function run(cmd, args, { cwd, env = process.env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code, out }));
  });
}
