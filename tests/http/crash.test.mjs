// The test support's reading of a silent runtime (support/crash.mjs): which backtraces of
// workerd's main thread count as the local runtime stuck in V8's message loop, a fault that
// tests/run.mjs answers by running the file again, and which stay a failure of the file.
import test from 'node:test';
import assert from 'node:assert/strict';
import { inMessageLoop } from './support/crash.mjs';

// workerd's own frames under a task of V8's message loop, as gdb prints them
const UNDER_THE_LOOP = [
  '0x000055e2f7e0fced in v8::platform::DefaultPlatform::PumpMessageLoop(v8::Isolate*, v8::platform::MessageLoopBehavior) ()',
  '0x000055e2f64c5be7 in kj::_::Deferred<workerd::IoContext::runImpl(workerd::IoContext::Runnable&, workerd::Worker::LockType, kj::Maybe<workerd::InputGate::Lo',
  '0x000055e2f64b0230 in workerd::IoContext::runImpl(workerd::IoContext::Runnable&, workerd::Worker::LockType, kj::Maybe<workerd::InputGate::Lock>, workerd::Io',
];
const backtrace = (frames) => frames.map((frame, i) => `#${i}${i < 10 ? '  ' : ' '}${frame}`).join('\n');

/** cppgc's incremental sweep run by the loop: the livelock seen under make dev in CI. */
const SWEEP = backtrace([
  '0x00007f00fb5aeb66 in clock_gettime ()',
  '0x000055e2f85aa456 in v8::base::TimeTicks::Now() ()',
  '0x000055e2f78d6171 in cppgc::internal::Sweeper::SweeperImpl::SweepInForegroundTaskImpl(v8::base::TimeDelta, cppgc::internal::StatsCollector::ScopeId) ()',
  '0x000055e2f78d60c4 in cppgc::internal::Sweeper::SweeperImpl::IncrementalSweepTask::Run() ()',
  ...UNDER_THE_LOOP,
]);
/** A finalizer the loop runs: wasm-bindgen's glue freeing a closure, JIT code and builtins. */
const FINALIZER = backtrace([
  '0x00003e8a0c2d1a34 in ?? ()',
  '0x00003e8a0c2d0f10 in ?? ()',
  '0x000055e2f7a01234 in Builtins_JSEntryTrampoline ()',
  '0x000055e2f7a00e11 in Builtins_JSEntry ()',
  '0x000055e2f7b11c20 in v8::internal::Execution::Call(v8::internal::Isolate*, v8::internal::Handle<v8::internal::Object>, v8::internal::Handle<v8::internal::O',
  '0x000055e2f7c3a001 in v8::internal::FinalizationRegistryCleanupTask::RunInternal() ()',
  ...UNDER_THE_LOOP,
]);
/** A request's code that never returns: the Worker's own endless loop. */
const REQUEST_LOOP = backtrace([
  '0x00003e8a0c2d1a34 in ?? ()',
  '0x000055e2f7a01234 in Builtins_JSEntryTrampoline ()',
  '0x000055e2f7b11c20 in v8::internal::Execution::Call(v8::internal::Isolate*, v8::internal::Handle<v8::internal::Object>, v8::internal::Handle<v8::internal::O',
  '0x000055e2f6123456 in workerd::api::ServiceWorkerGlobalScope::request(kj::HttpMethod, kj::StringPtr, kj::HttpHeaders const&, kj::AsyncInputStream&, kj::Htt',
  '0x000055e2f64b0230 in workerd::IoContext::runImpl(workerd::IoContext::Runnable&, workerd::Worker::LockType, kj::Maybe<workerd::InputGate::Lock>, workerd::Io',
]);
/** The thread waiting for I/O: the runtime is idle, not spinning. */
const IDLE = backtrace([
  '0x00007feb496afcae in __GI_epoll_pwait (epfd=9, events=0x7ffdc274a310, maxevents=16, timeout=-1, set=0x7ffdc274a3d0) at ../sysdeps/unix/sysv/linux/epoll_pwa',
  '0x0000555810209eec in kj::UnixEventPort::wait() ()',
  '0x00005558101be660 in kj::EventLoop::wait() ()',
]);

/** The thread between two calls of the loop, in the loop around them that ends a turn. */
const BETWEEN = backtrace([
  '0x00005651b1a949b4 in workerd::Worker::Lock::getIsolate() ()',
  ...UNDER_THE_LOOP.slice(1),
]);

/** JavaScript where gdb lost the way out of the JIT's frames: no workerd frame reached. */
const LOST = backtrace([
  '0x0000557c9e2a3c0b in workerd::api::(anonymous namespace)::EncodedAsyncOutputStream::write(kj::ArrayPtr<unsigned char const>) ()',
  '0x0000557c9eb2aae9 in Builtins_CallApiCallbackGeneric ()',
  '0x00001070009fb055 in ?? ()',
  '0x0000000000000001 in ?? ()',
  '0x0000557c9ec5ba2a in Builtins_PromiseFulfillReactionJob ()',
]);
/** A request's native work (a body written to disk), under workerd's request frames. */
const NATIVE_REQUEST = backtrace([
  '__libc_pwrite64 (fd=43, buf=0x71aab95a9000, count=4096, offset=405336) at ../sysdeps/unix/sysv/linux/pwrite64.c:23',
  '0x0000557ca04cb232 in kj::(anonymous namespace)::DiskHandle::write(unsigned long, kj::ArrayPtr<unsigned char const>) const ()',
  '0x000055e2f64b0230 in workerd::IoContext::runImpl(workerd::IoContext::Runnable&, workerd::Worker::LockType, kj::Maybe<workerd::InputGate::Lock>, workerd::Io',
]);

test('the loop at its own work in every backtrace is stuck', () => {
  assert.equal(inMessageLoop([SWEEP, SWEEP, SWEEP]), true);
});

test('a finalizer the loop runs in some backtraces is still the loop stuck', () => {
  assert.equal(inMessageLoop([SWEEP, FINALIZER, SWEEP]), true);
  assert.equal(inMessageLoop([FINALIZER, FINALIZER, SWEEP]), true);
});

test('the thread caught between two calls of the loop, beside the loop at its work, is stuck', () => {
  // as workerd 1.20260426 was caught under make dev (tests/http/dev.test.mjs)
  assert.equal(inMessageLoop([SWEEP, BETWEEN, SWEEP]), true);
  assert.equal(inMessageLoop([BETWEEN, BETWEEN, BETWEEN]), true);
  assert.equal(inMessageLoop([BETWEEN, REQUEST_LOOP, BETWEEN]), false);
  assert.equal(inMessageLoop([BETWEEN, IDLE, BETWEEN]), false);
});

test('JavaScript in every backtrace, a finalizer that never ends, is not the runtime stuck', () => {
  assert.equal(inMessageLoop([FINALIZER, FINALIZER, FINALIZER]), false);
});

test("a request's endless loop is not the runtime stuck, whatever the other backtraces show", () => {
  assert.equal(inMessageLoop([REQUEST_LOOP, REQUEST_LOOP, REQUEST_LOOP]), false);
  assert.equal(inMessageLoop([SWEEP, REQUEST_LOOP, SWEEP]), false);
});

test('a backtrace lost in JavaScript beside the loop at its own work is stuck; lost ones alone are not', () => {
  assert.equal(inMessageLoop([SWEEP, LOST, SWEEP]), true);
  assert.equal(inMessageLoop([LOST, LOST, LOST]), false);
});

test("a request's native work, or a thread idle, in any backtrace is not stuck", () => {
  assert.equal(inMessageLoop([SWEEP, NATIVE_REQUEST, SWEEP]), false);
  assert.equal(inMessageLoop([SWEEP, IDLE, SWEEP]), false);
  assert.equal(inMessageLoop([IDLE, IDLE, IDLE]), false);
});

test('no backtrace, or none at all, is not stuck', () => {
  assert.equal(inMessageLoop([SWEEP, '(no backtrace: Command failed: gdb)', SWEEP]), false);
  assert.equal(inMessageLoop([]), false);
});

test('JavaScript below the loop (the loop pumped from inside a script) is not stuck', () => {
  const pumpedFromScript = `${SWEEP}\n#7  0x000055e2f7a01234 in Builtins_JSEntryTrampoline ()`;
  assert.equal(inMessageLoop([pumpedFromScript, SWEEP, SWEEP]), false);
  // the loop between two calls, pumped from inside a script
  const betweenFromScript = `${BETWEEN}\n#9  0x000055e2f7a01234 in Builtins_JSEntryTrampoline ()`;
  assert.equal(inMessageLoop([betweenFromScript, SWEEP, SWEEP]), false);
  // a request's frame above the end of its turn: the request's own work, not the loop's
  const inRequest = BETWEEN.replace('workerd::Worker::Lock::getIsolate()', 'workerd::IoContext::current()');
  assert.notEqual(inRequest, BETWEEN);
  assert.equal(inMessageLoop([inRequest, SWEEP, SWEEP]), false);
});
