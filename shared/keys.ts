// The annotation users write and the label the webhook adds. The default key is kept
// compatible with the original do-floating-ip-k8s controller; the prefix is configurable.
// Annotation: the reserved IP list ("104.248.100.100" or "a, b"). Label: always "true",
// because an IPv6 address is not a valid label value and the reconciler needs a selector.

export const DEFAULT_KEY = 'k8s.haim.dev/floating-ip';
export const LABEL_VALUE = 'true';

export interface FloatingIpKeys {
  /** annotation holding the comma-separated reserved IP list */
  readonly annotation: string;
  /** label the mutating webhook adds; the reconciler's informers select on it */
  readonly label: string;
  /** `label=true`, ready for a Kubernetes label selector */
  readonly selector: string;
}

export function floatingIpKeys(key: string = DEFAULT_KEY): FloatingIpKeys {
  return { annotation: key, label: key, selector: `${key}=${LABEL_VALUE}` };
}

/**
 * The Node annotation where the floatip agent records its droplet's anchor IPv4: the key's
 * prefix plus `anchor-ipv4` (`k8s.haim.dev/anchor-ipv4` for the default key), so a custom
 * `--key` moves both together.
 */
export function anchorAnnotationKey(key: string = DEFAULT_KEY): string {
  const slash = key.lastIndexOf('/');
  return slash === -1 ? 'anchor-ipv4' : `${key.slice(0, slash)}/anchor-ipv4`;
}
