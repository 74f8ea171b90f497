// What a test file prints when the local runtime under it failed on its own: its workerd
// process exited (CRASHED), or its main thread spins in V8's message loop, running the
// platform's own tasks (collections, compiles, the finalizers they call) and never a
// request's code (STUCK: seen here with workerd 1.20260426, the loop re-running cppgc's
// incremental sweep while a background compile waits for a collection, and popping its task
// queue without end after a request's event), or it closed a connection before answering a
// request that may not be sent twice (CLOSED: every request goes on a connection of its own,
// never one the runtime closed for idleness). support/worker.mjs prints all three;
// tests/run.mjs runs such a file again (at most twice more). A Worker can neither end the
// process it runs in, nor keep V8's message loop spinning (a Worker's endless loop runs
// from a request, outside that loop; a Worker waiting on itself leaves the thread idle in
// the event loop), nor close the connection it answers on (an exception is a 500), so such
// a failure is the local tooling's, not the Worker's.
export const CRASHED = 'the local runtime crashed';
export const STUCK = 'the local runtime is stuck in V8\'s message loop';
export const CLOSED = 'the local runtime closed a connection before answering';
export const RUNTIME_FAULTS = [CRASHED, STUCK, CLOSED];

/** Whether `samples` (gdb's backtraces of workerd's main thread, innermost frames first,
 * taken a second apart) show that thread pumping V8's message loop the whole time. That
 * loop (`PumpMessageLoop`, called over and over at the end of each of the runtime's turns
 * in a request's context) runs the platform's own tasks: collections, compiles, and the
 * finalizers they call; a sample may also catch the thread between two of its calls. At
 * least one sample must be the loop at that work (or between two calls) with no
 * JavaScript or wasm frame at all (code the JIT made has no symbol, `??`; V8's builtins are
 * `Builtins_*`), and each of the others the loop running a finalizer's code inside it, or
 * such code where gdb lost the way out of the JIT's frames (no workerd frame reached). A
 * request's own code, endless or not, never runs inside the loop, and where gdb reaches
 * its frames (`IoContext`) the sample is not the loop's; a thread idle in the event loop
 * or in a request's native code is not either. A Worker whose own code spun without end
 * would show no sample of the loop at its own work. */
export function inMessageLoop(samples) {
  const js = (line) => /\?\? \(\)|Builtins_/.test(line);
  const kind = (stack) => {
    const lines = stack.split('\n');
    const loop = lines.findIndex((line) => /PumpMessageLoop/.test(line));
    if (loop >= 0) {
      if (lines.slice(loop).some(js)) return 'other';
      return lines.some(js) ? 'finalizer' : 'loop';
    }
    // between two calls: in the loop that pumps it once a turn in a request's context is
    // done (`IoContext::runImpl`'s `KJ_DEFER`), no JavaScript and no request's frame inside
    const pump = lines.findIndex((line) => /Deferred<workerd::IoContext::runImpl\(/.test(line));
    if (pump >= 0 && !lines.slice(0, pump).some((line) => js(line) || /IoContext::/.test(line)) && !lines.slice(pump).some(js)) return 'loop';
    return lines.some(js) && !lines.some((line) => /IoContext::/.test(line)) ? 'lost' : 'other';
  };
  const kinds = samples.map(kind);
  return kinds.includes('loop') && !kinds.includes('other');
}
