// The lab's address plan. Droplet public addresses come from the benchmarking range
// 198.18.0.0/15 (RFC 2544), the client ("the internet") from TEST-NET-3, IPv6 from the
// documentation prefix: nothing the lab routes can be confused with a real host. Anchors
// (10.20.0.0/16) are the emulator's; the VPC addresses are the nodes' InternalIPs as the
// harness creates them (test/cluster/nodes.ts internalIpOf).
export { internalIpOf, VPC_PREFIX_LENGTH } from '../cluster/nodes.ts';

export const CLIENT = { ipv4: '203.0.113.10', gateway4: '203.0.113.1', ipv6: '2001:db8:ff::10', gateway6: '2001:db8:ff::1' } as const;
/** the edge's side of the droplets' public network (and the anchor network's gateway) */
export const EDGE = { public4: '198.18.0.1', publicPrefix4: 15, anchorGateway: '10.20.0.1', anchorPrefix: 16, public6: '2001:db8:1::1', prefix6: 64 } as const;
/** the droplet's end of every pod veth (a link-local gateway, as Calico and Cilium do) */
export const POD_GATEWAY = '169.254.1.1';
export const METADATA_IP = '169.254.169.254';
/** the API server and the emulator, as processes inside a droplet namespace reach them */
export const API_BRIDGE_PORT = 6443;
export const EMULATOR_BRIDGE_PORT = 8080;

/** 198.19.x.y: inside 198.18.0.0/15, apart from the edge's 198.18.0.1 */
export function publicIpv4Of(dropletId: number): string {
  return `198.19.${Math.floor(dropletId / 256) % 256}.${dropletId % 256}`;
}

export function publicIpv6Of(dropletId: number): string {
  return `2001:db8:1::${(dropletId % 0x10000).toString(16)}`;
}
