// The fields of an AdmissionReview that floatip reads — decodeAdmissionReview, validate and
// mutate read nothing else — as a skim shape: the body is reduced to these before anything
// looks at it. Derived from POD_METADATA_PATHS, so a kind added there is read here too.
import type { FloatingIpKeys } from '../shared/keys.ts';
import type { SkimShape } from './skim.ts';
import { POD_METADATA_PATHS } from './validate.ts';

type MutableShape = { [key: string]: MutableShape | 'keep' };

function metadataShape(keys: FloatingIpKeys): MutableShape {
  return {
    name: 'keep',
    generateName: 'keep',
    namespace: 'keep',
    deletionTimestamp: 'keep',
    // Only floatip's own key of each map: a review's other annotations can be 256 KiB.
    annotations: { [keys.annotation]: 'keep' },
    labels: { [keys.label]: 'keep' },
  };
}

/** An object's own metadata and the pod metadata of every kind floatip knows. */
function objectShape(keys: FloatingIpKeys): MutableShape {
  const shape: MutableShape = { metadata: metadataShape(keys) };
  for (const path of Object.values(POD_METADATA_PATHS)) {
    let node = shape;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = next !== undefined && next !== 'keep' ? next : (node[key] = {});
    }
    node[path[path.length - 1] ?? 'metadata'] = metadataShape(keys);
  }
  return shape;
}

export function reviewShape(keys: FloatingIpKeys): SkimShape {
  const object = objectShape(keys);
  return {
    apiVersion: 'keep',
    kind: 'keep',
    request: {
      uid: 'keep',
      kind: { group: 'keep', version: 'keep', kind: 'keep' },
      operation: 'keep',
      namespace: 'keep',
      name: 'keep',
      dryRun: 'keep',
      object,
      oldObject: object,
    },
  };
}
