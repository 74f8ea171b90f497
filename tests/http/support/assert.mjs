// Assertions the HTTP tests share.
import assert from 'node:assert/strict';

/** An error answer: status, the envelope exactly (`code` = status, `data` null), and a
 * message matching `fragment`. */
export function assertError(res, status, fragment) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.deepEqual(res.json, { success: false, code: status, msg: res.json.msg, data: null });
  assert.match(res.json.msg, fragment);
}
