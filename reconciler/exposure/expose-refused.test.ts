import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExposeRefused } from './expose-refused.ts';

const VAP = "services \"game\" is forbidden: ValidatingAdmissionPolicy 'deny-external-ips' with binding 'deny-external-ips' denied request: spec.externalIPs is forbidden";

test("ExposeRefused: the API server's own sentence, from an ApiException's JSON body or an Error's first line, bounded", () => {
  const rows: [string, unknown, string][] = [
    ['ApiException (client-node): the Status message in the body', Object.assign(new Error('HTTP-Code: 422\nMessage: Unknown API Status Code!\nBody: ...'), { body: JSON.stringify({ kind: 'Status', message: VAP }) }), VAP],
    ['a body already parsed', { body: { message: VAP } }, VAP],
    ['a body that is no JSON: the first line', Object.assign(new Error('HTTP-Code: 503\nMore'), { body: '<html>' }), 'HTTP-Code: 503'],
    ['a plain error', new Error('socket hang up'), 'socket hang up'],
    ['a long message is cut at 300 characters', new Error('x'.repeat(1000)), 'x'.repeat(300)],
  ];
  for (const [name, cause, message] of rows) {
    const err = new ExposeRefused('locked/game', cause);
    assert.deepEqual([err.service, err.message, err.cause], ['locked/game', message, cause], name);
  }
});
