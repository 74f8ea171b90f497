// What a test file prints when the local runtime under it failed on its own: its workerd
// process exited (CRASHED), or its main thread spins in V8's garbage collector (STUCK: seen
// here with workerd 1.20260426, the message loop re-running cppgc's incremental sweep while
// a background compile waits for a collection), or it closed a connection before answering
// a request that may not be sent twice (CLOSED: it does that to a request that came while
// its one thread was busy for seconds). support/worker.mjs prints all three; tests/run.mjs
// runs such a file again (at most twice more). A Worker can neither end the process it runs
// in, nor put V8's sweeper in a loop, nor close the connection it answers on (an exception
// is a 500), so such a failure is the local tooling's, not the Worker's.
export const CRASHED = 'the local runtime crashed';
export const STUCK = 'the local runtime is stuck in the V8 garbage collector';
export const CLOSED = 'the local runtime closed a connection before answering';
export const RUNTIME_FAULTS = [CRASHED, STUCK, CLOSED];

/** Whether `stack` (gdb's backtrace of workerd's main thread) is V8's sweeper run from the
 * message loop. */
export const inCollector = (stack) => /PumpMessageLoop/.test(stack) && /Sweep/.test(stack);
