// What a test file prints when the local runtime under it failed on its own: its workerd
// process exited (CRASHED), or its main thread spins in V8's garbage collector (STUCK: seen
// here with workerd 1.20260426, the message loop re-running cppgc's incremental sweep while
// a background compile waits for a collection). support/worker.mjs prints them; tests/run.mjs
// runs such a file once more. A Worker can neither end the process it runs in nor put V8's
// sweeper in a loop, so such a failure is the runtime's, not the Worker's.
export const CRASHED = 'the local runtime crashed';
export const STUCK = 'the local runtime is stuck in the V8 garbage collector';
export const RUNTIME_FAULTS = [CRASHED, STUCK];

/** Whether `stack` (gdb's backtrace of workerd's main thread) is V8's sweeper run from the
 * message loop. */
export const inCollector = (stack) => /PumpMessageLoop/.test(stack) && /Sweep/.test(stack);
