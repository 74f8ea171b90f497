// What a test file prints when the local runtime under it crashed (its workerd process
// exited): support/worker.mjs prints it, tests/run.mjs looks for it. A Worker cannot end the
// process it runs in, so such a failure is the runtime's, not the Worker's.
export const CRASHED = 'the local runtime crashed';
