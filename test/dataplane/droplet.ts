// One droplet as a network namespace: eth0 on DigitalOcean's public network (a 198.19.x.y
// public address and the anchor aliased, as on a real droplet), vpc0 on the VPC with the
// node's InternalIP, the metadata service at 169.254.169.254, bridges to the API server and
// the emulator on its loopback, a stand-in for the kubelet's port 10250 on the VPC address, and
// real kube-proxy. Processes started here are the droplet's: die() takes them down with its links.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Component } from '../cluster/processes.ts';
import { API_BRIDGE_PORT, EDGE, EMULATOR_BRIDGE_PORT, internalIpOf, METADATA_IP, publicIpv4Of, publicIpv6Of, VPC_PREFIX_LENGTH } from './addresses.ts';
import { forwardUnixToTcp, metadataBridge, socatArgs } from './bridges.ts';
import type { HostListener } from './bridges.ts';
import { DROPLET_BRIDGE } from './edge-rules.ts';
import { inNs, ip, run, spawnIn, sysctl } from './netns.ts';

export const KUBELET_PORT = 10250;
export const VPC_BRIDGE = 'br0';

export interface DropletSpec {
  readonly id: number;
  readonly node: string;
  readonly anchor: string;
}

export interface LabDroplet extends DropletSpec {
  readonly ns: string;
  readonly public4: string;
  readonly public6: string;
  readonly internalIp: string;
  /** the API server as processes in this namespace reach it (a bridge on its loopback) */
  readonly apiServerUrl: string;
  /** the DigitalOcean emulator as processes in this namespace reach it */
  readonly emulatorUrl: string;
  /** a kubeconfig document rewritten to the API bridge, written to a file; returns its path */
  writeKubeconfig(name: string, yaml: string): Promise<string>;
  /** starts a process inside the namespace (log in the lab's dir); it dies with the droplet */
  run(name: string, binary: string, args: readonly string[], env?: NodeJS.ProcessEnv): Component;
  /** real kube-proxy, nftables mode; resolves once it has programmed its table */
  startKubeProxy(binary: string, adminKubeconfigYaml: string): Promise<Component>;
  /** whether kube-proxy's nft table mentions `address` (e.g. the anchor, once a Service lists it in externalIPs) */
  kubeProxyHas(address: string): Promise<boolean>;
  /** its links go down and every process it runs is killed (the kubelet's silence is the lab's part) */
  die(): Promise<void>;
  /** links up again, its bridges, kubelet stand-in and kube-proxy restarted (other processes are the caller's) */
  revive(): Promise<void>;
  readonly dead: boolean;
  /** stops processes and host-side bridges (the namespace itself goes with the lab) */
  close(): Promise<void>;
}

/** A kubeconfig document with its server replaced (e.g. by a bridge inside a namespace). */
export function withServer(yaml: string, server: string): string {
  const doc = parse(yaml) as { clusters: { cluster: { server: string } }[] };
  for (const c of doc.clusters) c.cluster.server = server;
  return stringify(doc);
}

export async function createDroplet(spec: DropletSpec, lab: { ns: string; edgeNs: string; vpcNs: string; dir: string; apiServer: string; emulatorUrl: string }): Promise<LabDroplet> {
  const { ns, dir } = lab;
  const public4 = publicIpv4Of(spec.id);
  const public6 = publicIpv6Of(spec.id);
  const internalIp = internalIpOf(spec.id);
  await run('ip', ['netns', 'add', ns]);
  await ip(
    ns,
    'link set lo up',
    `link add eth0 type veth peer name d${spec.id} netns ${lab.edgeNs}`,
    `link add vpc0 type veth peer name v${spec.id} netns ${lab.vpcNs}`,
    `addr add ${public4}/${EDGE.publicPrefix4} dev eth0`,
    `addr add ${spec.anchor}/${EDGE.anchorPrefix} dev eth0`,
    `addr add ${public6}/${EDGE.prefix6} dev eth0 nodad`,
    `addr add ${internalIp}/${VPC_PREFIX_LENGTH} dev vpc0`,
    `addr add ${METADATA_IP}/32 dev lo`,
    'link set eth0 up',
    'link set vpc0 up',
    `route add default via ${EDGE.public4} dev eth0`,
    `route add default via ${EDGE.public6} dev eth0`,
  );
  await ip(lab.edgeNs, `link set d${spec.id} master ${DROPLET_BRIDGE} up`);
  await ip(lab.vpcNs, `link set v${spec.id} master ${VPC_BRIDGE} up`);
  await sysctl(ns, 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.forwarding=1');

  const processes: Component[] = [];
  const start = (name: string, binary: string, args: readonly string[], env?: NodeJS.ProcessEnv) => {
    const c = spawnIn(ns, { name: `${name}@${spec.node}`, binary, args, logPath: join(dir, `${spec.node}-${name}.log`), env });
    processes.push(c);
    return c;
  };
  const sock = (name: string) => join(dir, `${spec.node}-${name}.sock`);
  const listeners: HostListener[] = await Promise.all([
    forwardUnixToTcp(sock('api'), lab.apiServer),
    forwardUnixToTcp(sock('emulator'), lab.emulatorUrl),
    metadataBridge(sock('metadata'), lab.emulatorUrl, spec.id),
  ]);
  const startBase = () => {
    start('api-bridge', 'socat', socatArgs('127.0.0.1', API_BRIDGE_PORT, sock('api')));
    start('emulator-bridge', 'socat', socatArgs('127.0.0.1', EMULATOR_BRIDGE_PORT, sock('emulator')));
    start('metadata', 'socat', socatArgs(METADATA_IP, 80, sock('metadata')));
    // What a TCP liveness check of the kubelet sees: a listener that accepts on the VPC address.
    start('kubelet', 'socat', [`TCP-LISTEN:${KUBELET_PORT},bind=${internalIp},fork,reuseaddr`, 'EXEC:/bin/true']);
  };
  startBase();

  let dead = false;
  let closed = false;
  let kubeProxy: { binary: string; yaml: string } | undefined;
  // kube-proxy exits when its Node is deleted; on a node its DaemonSet (or systemd) starts it
  // again, so the lab does too, a second later, while the droplet lives.
  const startKubeProxyProcess = (binary: string, kubeconfig: string): Component => {
    const c = start('kube-proxy', binary, [
      `--kubeconfig=${kubeconfig}`,
      '--proxy-mode=nftables',
      `--hostname-override=${spec.node}`,
      // conntrack limits are the host's business, not a namespace's
      '--conntrack-max-per-core=0',
      '--cluster-cidr=10.244.0.0/16',
      '--healthz-bind-address=127.0.0.1:10256',
      '--metrics-bind-address=127.0.0.1:10249',
      '--v=1',
    ]);
    void c.exited.then(() => {
      const i = processes.indexOf(c);
      if (i >= 0) processes.splice(i, 1);
      if (dead || closed) return;
      setTimeout(() => {
        if (!dead && !closed && !processes.some((p) => p.name === c.name)) startKubeProxyProcess(binary, kubeconfig);
      }, 1_000);
    });
    return c;
  };
  const droplet: LabDroplet = {
    ...spec,
    ns,
    public4,
    public6,
    internalIp,
    apiServerUrl: `https://127.0.0.1:${API_BRIDGE_PORT}`,
    emulatorUrl: `http://127.0.0.1:${EMULATOR_BRIDGE_PORT}`,
    get dead() {
      return dead;
    },
    async writeKubeconfig(name, yaml) {
      const path = join(dir, `${spec.node}-${name}.kubeconfig`);
      await writeFile(path, withServer(yaml, droplet.apiServerUrl), { mode: 0o600 });
      return path;
    },
    run: start,
    async startKubeProxy(binary, adminYaml) {
      kubeProxy = { binary, yaml: adminYaml };
      const kubeconfig = await droplet.writeKubeconfig('kube-proxy', adminYaml);
      const c = startKubeProxyProcess(binary, kubeconfig);
      const deadline = Date.now() + 60_000;
      for (;;) {
        const listed = await inNs(ns, 'nft', ['list', 'tables']).catch(() => '');
        if (listed.includes('table ip kube-proxy')) return c;
        if (c.child.exitCode !== null || c.child.signalCode !== null) throw new Error(`kube-proxy on ${spec.node} exited:\n${c.tail()}`);
        if (Date.now() > deadline) throw new Error(`kube-proxy on ${spec.node} programmed nothing in 60 s:\n${c.tail()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kubeProxyHas(address) {
      const table = await inNs(ns, 'nft', ['list', 'table', 'ip', 'kube-proxy']).catch(() => '');
      return new RegExp(`(^|[^0-9.])${address.replaceAll('.', '\\.')}([^0-9.]|$)`, 'm').test(table);
    },
    async die() {
      dead = true;
      await ip(ns, 'link set eth0 down', 'link set vpc0 down');
      await Promise.all(processes.splice(0).map((p) => p.stop(0)));
    },
    async revive() {
      // IPv6 addresses (and every route through the links) went with the links
      await ip(
        ns,
        'link set eth0 up',
        'link set vpc0 up',
        `addr replace ${public6}/${EDGE.prefix6} dev eth0 nodad`,
        `route replace default via ${EDGE.public4} dev eth0`,
        `route replace default via ${EDGE.public6} dev eth0`,
      );
      dead = false;
      startBase();
      if (kubeProxy) await droplet.startKubeProxy(kubeProxy.binary, kubeProxy.yaml);
    },
    async close() {
      closed = true;
      await Promise.all(processes.map((p) => p.stop(500)));
      await Promise.all(listeners.map((l) => l.close()));
    },
  };
  return droplet;
}
