// Which reserved IPs an informer event concerns. A pod event concerns the IPs its old and new
// annotation list; a node event the IPs claimed by pods on that node and the IPs its droplet
// holds. Also remembers which droplets belonged to nodes deleted while this process watched
// (so a move can say "node X was deleted", and the claim policy knows the droplet was ours),
// and warns once per pod about an annotation it cannot use or an address the IP policy refuses. Everything is read from the
// world index (no pass over the pod list): a node event costs what its pods cost.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { FloatingIpKeys } from '../shared/keys.ts';
import type { Logger } from '../shared/logger.ts';
import type { EventSink } from './events.ts';
import { dropletIdOf } from './snapshot.ts';
import type { WorldIndex } from './world-index.ts';

export interface TriggerDeps {
  readonly keys: FloatingIpKeys;
  readonly index: WorldIndex;
  readonly logger: Logger;
  readonly events: EventSink;
  /** IPs the droplet holds, as the current term knows them */
  readonly heldBy: (dropletId: number) => readonly string[];
  /** warnings are made only while a term runs (standbys stay quiet) */
  readonly active: () => boolean;
}

export interface Triggers {
  podChanged(pod: V1Pod | undefined, old?: V1Pod): readonly string[];
  nodeChanged(node: V1Node | undefined, old?: V1Node): readonly string[];
  /** droplet id → name of a node deleted while this process watched */
  deletedNodes(): ReadonlyMap<number, string>;
  /** every IP a usable annotation claims (and a Warning for each unusable one not yet warned about) */
  allClaimedIps(): readonly string[];
}

/** Bound on remembered deleted nodes; a droplet that joins again is forgotten at once. */
const DELETED_NODES_KEPT = 1024;

export function createTriggers(deps: TriggerDeps): Triggers {
  const { index, keys } = deps;
  const deleted = new Map<number, string>();
  // pod uid → the invalid annotation value already warned about (dropped with the pod)
  const invalidSeen = new Map<string, string | undefined>();

  function claimedIps(pod: V1Pod | undefined, current = true): readonly string[] {
    if (!pod) return [];
    const { ips, invalid, notAllowed } = index.entry(pod);
    if (invalid === undefined && notAllowed === undefined) return ips;
    const uid = pod.metadata?.uid ?? '';
    const value = pod.metadata?.annotations?.[keys.annotation];
    if (current && deps.active() && !(invalidSeen.has(uid) && invalidSeen.get(uid) === value)) {
      invalidSeen.set(uid, value);
      const who = { namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid };
      if (invalid !== undefined) {
        deps.logger.warn({ ...who, reason: invalid }, 'pod annotation ignored');
        void deps.events.record({ pod, type: 'Warning', reason: 'FloatingIPInvalid', message: invalid });
      } else if (notAllowed !== undefined) {
        deps.logger.warn({ ...who, ips: notAllowed.ips, reason: notAllowed.message }, 'pod claims reserved IPs the IP policy does not allow in its namespace; they are ignored');
        void deps.events.record({ pod, type: 'Warning', reason: 'FloatingIPNotAllowed', message: notAllowed.message });
      }
    }
    return ips;
  }

  function podsOn(nodeName: string | undefined): readonly string[] {
    if (!nodeName) return [];
    return [...index.podsOn(nodeName)].flatMap((p) => claimedIps(p));
  }

  return {
    podChanged(pod, old) {
      const ips = new Set([...claimedIps(pod), ...claimedIps(old, false)]);
      if (pod === undefined && old?.metadata?.uid) invalidSeen.delete(old.metadata.uid);
      return [...ips];
    },
    nodeChanged(node, old) {
      const current = dropletIdOf(node?.spec?.providerID);
      const previous = dropletIdOf(old?.spec?.providerID);
      if (current !== null) deleted.delete(current);
      if (node === undefined && previous !== null && old?.metadata?.name) {
        deleted.set(previous, old.metadata.name);
        if (deleted.size > DELETED_NODES_KEPT) deleted.delete(deleted.keys().next().value as number);
      }
      const names = new Set([node?.metadata?.name, old?.metadata?.name]);
      const droplets = [...new Set([current, previous])].filter((d): d is number => d !== null);
      // The IPs the droplet holds first: they are the possible failovers, and the queue runs
      // IPs of one priority in the order they were marked.
      return [...new Set([...droplets.flatMap(deps.heldBy), ...[...names].flatMap(podsOn)])];
    },
    deletedNodes: () => deleted,
    allClaimedIps() {
      for (const pod of index.invalidPods()) claimedIps(pod);
      return [...index.claimedIps()];
    },
  };
}
