// A pod as a network namespace: eth0 with the IP kwok reported for it (a /32, default route
// to a link-local gateway on the droplet's end of the veth, as Calico and Cilium do), routed
// from its droplet and, over the VPC, from every other droplet (a flat pod network); inside,
// the lab's echo server on the workload's ports.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Component } from '../cluster/processes.ts';
import { POD_GATEWAY } from './addresses.ts';
import type { LabDroplet } from './droplet.ts';
import { ip, run, spawnIn } from './netns.ts';

export const ECHO_SERVER = fileURLToPath(new URL('./echo-server.ts', import.meta.url));

export interface Ports {
  readonly udp?: readonly number[];
  readonly tcp?: readonly number[];
}

export interface LabPod {
  /** namespace/name of the Kubernetes pod */
  readonly key: string;
  readonly uid: string;
  readonly ip: string;
  readonly ns: string;
  readonly droplet: LabDroplet;
  readonly server: Component;
  remove(): Promise<void>;
}

/** Arguments of echo-server.ts for a pod named `name` serving `ports`. */
export function echoArgs(name: string, ports: Ports, bind?: string): string[] {
  return [
    ECHO_SERVER,
    '--name',
    name,
    ...(ports.udp ?? []).flatMap((p) => ['--udp', String(p)]),
    ...(ports.tcp ?? []).flatMap((p) => ['--tcp', String(p)]),
    ...(bind === undefined ? [] : ['--bind', bind]),
  ];
}

/** Waits for the echo server's {"listening"} line in its log. */
export async function untilListening(server: Component): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (server.tail(5).includes('"listening"')) return;
    if (server.child.exitCode !== null || server.child.signalCode !== null) throw new Error(`${server.name} exited:\n${server.tail()}`);
    if (Date.now() > deadline) throw new Error(`${server.name} not listening after 20 s:\n${server.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function createPod(opts: {
  key: string;
  uid: string;
  podIp: string;
  ns: string;
  veth: string;
  droplet: LabDroplet;
  others: readonly LabDroplet[];
  ports: Ports;
  dir: string;
}): Promise<LabPod> {
  const { ns, droplet, veth, podIp } = opts;
  await run('ip', ['netns', 'add', ns]);
  const where = `pod ${opts.key} (${podIp}) on ${droplet.node}`;
  const plumb = (p: Promise<void>) => p.catch((err: unknown) => {
    throw new Error(`${where}: ${(err as Error).message}`);
  });
  await plumb(ip(
    droplet.ns,
    `link add ${veth} type veth peer name eth0 netns ${ns}`,
    `addr add ${POD_GATEWAY}/32 dev ${veth}`,
    `link set ${veth} up`,
    `route add ${podIp}/32 dev ${veth}`,
  ));
  await plumb(ip(ns, 'link set lo up', `addr add ${podIp}/32 dev eth0`, 'link set eth0 up', `route add ${POD_GATEWAY} dev eth0 scope link`, `route add default via ${POD_GATEWAY} dev eth0`));
  const elsewhere = opts.others.filter((d) => d !== droplet && !d.dead);
  await Promise.all(elsewhere.map((d) => ip(d.ns, `route replace ${podIp}/32 via ${droplet.internalIp} dev vpc0`)));
  const name = opts.key.split('/')[1] ?? opts.key;
  const server = spawnIn(ns, { name: `echo@${name}`, binary: process.execPath, args: echoArgs(name, opts.ports), logPath: join(opts.dir, `pod-${name}.log`) });
  await untilListening(server);
  return {
    key: opts.key,
    uid: opts.uid,
    ip: podIp,
    ns,
    droplet,
    server,
    async remove() {
      await server.stop(0);
      await Promise.all(elsewhere.map((d) => ip(d.ns, `route del ${podIp}/32`).catch(() => undefined)));
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    },
  };
}
