// The cluster's identity on DigitalOcean: DOKS tags every worker droplet `k8s:<cluster-uuid>`.
// The one parser of that tag: the claim policy (is a holder droplet ours?) and the firewall
// (which tag to target) read it from here.

const CLUSTER_TAG = /^k8s:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The cluster's UUID from a worker droplet's tags, if one is `k8s:<uuid>`. */
export function clusterUuidOf(tags: readonly string[]): string | undefined {
  for (const t of tags) {
    const m = CLUSTER_TAG.exec(t);
    if (m) return m[1];
  }
  return undefined;
}

/** The worker tag of a cluster: what its droplets carry and its firewall targets. */
export const clusterTag = (uuid: string): string => `k8s:${uuid}`;

/** node droplets whose tags are read before giving up on the cluster UUID for now */
const UUID_TRIES = 3;

/**
 * The cluster's UUID from the tags of its node droplets (the first few of them). `tagsOf`
 * may cache, and answers undefined for a droplet it cannot read.
 */
export async function learnClusterUuid(droplets: Iterable<number>, tagsOf: (id: number) => Promise<readonly string[] | undefined>): Promise<{ uuid: string; droplet: number } | undefined> {
  let tried = 0;
  for (const id of droplets) {
    const uuid = clusterUuidOf((await tagsOf(id)) ?? []);
    if (uuid) return { uuid, droplet: id };
    if (++tried >= UUID_TRIES) break;
  }
  return undefined;
}
