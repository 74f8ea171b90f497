// What a test file prints when the local runtime under it failed on its own: its workerd
// process exited (CRASHED), or its main thread spins in V8's message loop, running the
// platform's own tasks and never the Worker's code (STUCK: seen here with workerd
// 1.20260426, the loop re-running cppgc's incremental sweep while a background compile
// waits for a collection, and popping its task queue without end after a request's event),
// or it closed a connection before answering a request that may not be sent twice (CLOSED:
// every request goes on a connection of its own, never one the runtime closed for idleness).
// support/worker.mjs prints all three; tests/run.mjs runs such a file again (at most twice
// more). A Worker can neither end the process it runs in, nor keep V8's message loop
// spinning without running its own code (a Worker's endless loop shows its JavaScript or
// wasm frames; a Worker waiting on itself leaves the thread idle in the event loop), nor
// close the connection it answers on (an exception is a 500), so such a failure is the local
// tooling's, not the Worker's.
export const CRASHED = 'the local runtime crashed';
export const STUCK = 'the local runtime is stuck in V8\'s message loop';
export const CLOSED = 'the local runtime closed a connection before answering';
export const RUNTIME_FAULTS = [CRASHED, STUCK, CLOSED];

/** Whether every one of `samples` (gdb's backtraces of workerd's main thread, innermost
 * frames first, taken apart in time) is V8's message loop at work with no JavaScript or wasm
 * frame inside it: code the JIT made has no symbol (`??`), V8's builtins are `Builtins_*`. */
export const inMessageLoop = (samples) => samples.length > 0
  && samples.every((stack) => /PumpMessageLoop/.test(stack) && !/\?\? \(\)|Builtins_/.test(stack));
