// What a test file prints when the local runtime under it failed on its own: its workerd
// process exited (CRASHED), or its main thread spins in V8's garbage collector (STUCK: seen
// here with workerd 1.20260426, the message loop re-running cppgc's incremental sweep while
// a background compile waits for a collection), or wrangler dev's proxy lost its connection
// to the runtime mid-request (PROXY_LOST). support/worker.mjs prints the first two, the
// proxy's 503 names the third; tests/run.mjs runs such a file once more. A Worker can
// neither end the process it runs in, nor put V8's sweeper in a loop, nor write the proxy's
// answer, so such a failure is the local tooling's, not the Worker's.
export const CRASHED = 'the local runtime crashed';
export const STUCK = 'the local runtime is stuck in the V8 garbage collector';
/** wrangler dev's own proxy answers this 503 when its hop to the Worker's runtime loses the
 * connection (cloudflare/workers-sdk#14641: seen with the runtime still up); the Worker
 * answers every request with a JSON envelope and never sends this text. */
export const PROXY_LOST = 'Your worker restarted mid-request';
export const RUNTIME_FAULTS = [CRASHED, STUCK, PROXY_LOST];

/** Whether `stack` (gdb's backtrace of workerd's main thread) is V8's sweeper run from the
 * message loop. */
export const inCollector = (stack) => /PumpMessageLoop/.test(stack) && /Sweep/.test(stack);
