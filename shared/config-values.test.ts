import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseDuration, parseKey, parseLogLevel, parsePort } from './config-values.ts';

test('parseDuration: Go-style units, positive unless zero is allowed', () => {
  assert.equal(parseDuration('x', '250ms'), 250);
  assert.equal(parseDuration('x', '0.5s'), 500);
  assert.equal(parseDuration('x', '90m'), 5_400_000);
  assert.equal(parseDuration('x', '0s', true), 0);
  assert.throws(() => parseDuration('x', '1d'), { message: '--x must be a positive duration like 500ms, 10s or 5m (got "1d")' });
  assert.throws(() => parseDuration('x', '0s'), { message: '--x must be a positive duration like 500ms, 10s or 5m (got "0s")' });
  assert.throws(() => parseDuration('x', '10', true), { message: '--x must be a duration like 500ms, 10s or 5m (got "10")' });
});

test('parsePort, parseKey, parseLogLevel: values and exact messages', () => {
  assert.equal(parsePort('p', '0'), 0);
  assert.equal(parsePort('p', '65535'), 65535);
  assert.throws(() => parsePort('p', '65536'), { message: '--p must be a port number from 0 to 65535 (got "65536")' });
  assert.equal(parseKey('example.com/ip'), 'example.com/ip');
  assert.equal(parseKey('ip'), 'ip');
  assert.throws(() => parseKey('Bad_Prefix/ip'), { message: '--key "Bad_Prefix/ip" is not a valid label key (e.g. k8s.haim.dev/floating-ip)' });
  assert.equal(parseLogLevel('debug'), 'debug');
  assert.throws(() => parseLogLevel('verbose'), (err: unknown) => err instanceof ConfigError && err.message === '--log-level must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")');
});
