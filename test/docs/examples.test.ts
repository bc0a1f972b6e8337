// deploy/examples/*.yaml as users copy them: each workload claims a placeholder address, which
// floatip's webhook (its validate(), as the API server would call it) refuses with a sentence
// saying to replace it; with a reserved IP put in, the same object is admitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { PLACEHOLDER_FIX } from '../../shared/addresses.ts';
import { floatingIpKeys } from '../../shared/keys.ts';
import { validate } from '../../webhook/validate.ts';
import type { AdmissionRequest } from '../../webhook/review.ts';
import { REPO_ROOT } from './markdown.ts';

const keys = floatingIpKeys();
type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } };

function review(object: Obj): AdmissionRequest {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  return { uid: 'u', kind: { group: group ?? '', version: version ?? '', kind: object.kind }, operation: 'CREATE', namespace: 'default', name: object.metadata.name, object };
}

const files = globSync('deploy/examples/*.yaml', { cwd: REPO_ROOT });

test('every example workload claims a placeholder the webhook refuses with "replace it", and is admitted with a real address', () => {
  assert.ok(files.length >= 2, files.join());
  for (const file of files) {
    const objects = parseAllDocuments(readFileSync(`${REPO_ROOT}${file}`, 'utf8')).map((d) => d.toJS() as Obj);
    const workloads = objects.filter((o) => o.spec?.template?.metadata?.annotations?.[keys.annotation] !== undefined);
    assert.equal(workloads.length, 1, `${file}: one annotated workload`);
    for (const w of workloads) {
      const placeholder = w.spec?.template?.metadata?.annotations?.[keys.annotation] ?? '';
      const denied = validate(review(w), keys);
      assert.equal(denied.allowed, false, file);
      assert.ok(!denied.allowed && denied.message.endsWith(`: ${PLACEHOLDER_FIX}`), `${file}: ${JSON.stringify(denied)}`);
      const replaced = structuredClone(w);
      const annotations = replaced.spec?.template?.metadata?.annotations ?? {};
      annotations[keys.annotation] = '104.248.100.100';
      assert.deepEqual(validate(review(replaced), keys), { allowed: true, warnings: [] }, `${file} with ${placeholder} replaced`);
    }
  }
});

test('the examples use images that exist publicly (no ghcr.io/example placeholders)', () => {
  for (const file of files) {
    const images = [...readFileSync(`${REPO_ROOT}${file}`, 'utf8').matchAll(/^\s*image: (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(images.filter((i) => !i?.startsWith('registry.k8s.io/')), [], file);
  }
});
