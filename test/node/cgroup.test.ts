// Unit tests of src/enrich/cgroup.ts on real /proc/<pid>/cgroup lines. Each line's origin is cited beside it.
import { strict as assert } from 'node:assert';
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  parseCgroupPath,
  parseProcCgroup,
  parseProcStatStartTime,
  readProcCgroup,
  readProcIdentity,
  readProcStartTime,
  type CgroupInfo,
} from '../../src/enrich/cgroup';

function container(info: CgroupInfo) {
  assert.equal(info.host, false, 'expected a container');
  if (info.host) throw new Error('unreachable');
  return info;
}

describe('parseProcCgroup: kubelet cgroupfs driver', () => {
  it('besteffort pod on containerd, v1 hybrid (this VM, shared/cri-recipe.md §3)', () => {
    // Every hierarchy carries the same path here, the empty unified 0:: one included.
    const text = [
      '9:name=systemd:/kubepods/besteffort/podc0ffee00-0000-4000-8000-795368874761/215df773c4b4fdc167241a4d7e4910f2f9954f436306af1da65ad8d8f9518c9e',
      '8:pids:/kubepods/besteffort/podc0ffee00-0000-4000-8000-795368874761/215df773c4b4fdc167241a4d7e4910f2f9954f436306af1da65ad8d8f9518c9e',
      '0::/kubepods/besteffort/podc0ffee00-0000-4000-8000-795368874761/215df773c4b4fdc167241a4d7e4910f2f9954f436306af1da65ad8d8f9518c9e',
      '',
    ].join('\n');
    const c = container(parseProcCgroup(text));
    assert.equal(c.containerId, '215df773c4b4fdc167241a4d7e4910f2f9954f436306af1da65ad8d8f9518c9e');
    assert.equal(c.podUid, 'c0ffee00-0000-4000-8000-795368874761');
    assert.equal(c.qos, 'besteffort');
    assert.equal(c.runtime, undefined, 'a bare id under the cgroupfs driver does not name its runtime');
  });

  it('guaranteed pod: /kubepods/pod<uid>/<id> (elastic/apm-agent-go internal/apmhostutil/container_linux_test.go)', () => {
    const c = container(parseProcCgroup('10:cpuset:/kubepods/pod5eadac96-ab58-11ea-b82b-0242ac110009/7fe41c8a2d1da09420117894f11dd91f6c3a44dfeb7d125dc594bd53468861df'));
    assert.equal(c.containerId, '7fe41c8a2d1da09420117894f11dd91f6c3a44dfeb7d125dc594bd53468861df');
    assert.equal(c.podUid, '5eadac96-ab58-11ea-b82b-0242ac110009');
    assert.equal(c.qos, 'guaranteed');
  });

  it('nested /kubepods/kubepods/besteffort (Docker Desktop; elastic/apm-agent-go container_linux_test.go)', () => {
    const c = container(
      parseProcCgroup('12:pids:/kubepods/kubepods/besteffort/pod0e886e9a-3879-45f9-b44d-86ef9df03224/244a65edefdffe31685c42317c9054e71dc1193048cf9459e2a4dd35cbc1dba4'),
    );
    assert.equal(c.containerId, '244a65edefdffe31685c42317c9054e71dc1193048cf9459e2a4dd35cbc1dba4');
    assert.equal(c.podUid, '0e886e9a-3879-45f9-b44d-86ef9df03224');
    assert.equal(c.qos, 'besteffort');
  });

  it('containerd without a cgroup parent: /k8s.io/<id> (this VM, shared/cri-recipe.md §3)', () => {
    // The recipe shows the memory line in full and says the 0:: line carries the same path.
    const id = '971b1b24d8ecd9b660d9d02f7f1ee6c198fe76aa3c0a5504493e1df552079fcf';
    for (const line of [`4:memory:/k8s.io/${id}`, `0::/k8s.io/${id}`]) {
      const c = container(parseProcCgroup(line));
      assert.equal(c.containerId, id);
      assert.equal(c.runtime, 'containerd');
      assert.equal(c.podUid, undefined);
      assert.equal(c.qos, undefined);
    }
  });
});

describe('parseProcCgroup: kubelet systemd driver', () => {
  it('burstable, cri-containerd scope, v1 (grafana/phlare, now grafana/pyroscope, ebpf/sd/target_test.go)', () => {
    const c = container(
      parseProcCgroup(
        '12:cpuset:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod471203d1_984f_477e_9c35_db96487ffe5e.slice/cri-containerd-a534eb629135e43beb13213976e37bb2ab95cba4c0d1d0b4e27c6bc4d8091b83.scope',
      ),
    );
    assert.deepEqual(
      { id: c.containerId, runtime: c.runtime, uid: c.podUid, qos: c.qos },
      { id: 'a534eb629135e43beb13213976e37bb2ab95cba4c0d1d0b4e27c6bc4d8091b83', runtime: 'containerd', uid: '471203d1-984f-477e-9c35-db96487ffe5e', qos: 'burstable' },
    );
  });

  it('burstable, cri-containerd scope, cgroup v2 0:: (grafana/phlare ebpf/sd/target_test.go)', () => {
    const c = container(
      parseProcCgroup(
        '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podf9a04ecc_1875_491b_926c_d2f64757704e.slice/cri-containerd-47e320f795efcec1ecf2001c3a09c95e3701ed87de8256837b70b10e23818251.scope\n',
      ),
    );
    assert.equal(c.containerId, '47e320f795efcec1ecf2001c3a09c95e3701ed87de8256837b70b10e23818251');
    assert.equal(c.runtime, 'containerd');
    assert.equal(c.podUid, 'f9a04ecc-1875-491b-926c-d2f64757704e');
    assert.equal(c.qos, 'burstable');
  });

  it('CRI-O scope, cgroup v2 (grafana/phlare ebpf/sd/target_test.go)', () => {
    const c = container(
      parseProcCgroup(
        '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podb57320a0_e7eb_4ac8_a791_4c4472796867.slice/crio-0ecc7949cbaf17e883264ea1055f60b184a7cb264fd759c4a692e1155086fe2d.scope',
      ),
    );
    assert.equal(c.containerId, '0ecc7949cbaf17e883264ea1055f60b184a7cb264fd759c4a692e1155086fe2d');
    assert.equal(c.runtime, 'cri-o');
    assert.equal(c.podUid, 'b57320a0-e7eb-4ac8-a791-4c4472796867');
  });

  it('CRI-O scope, v1 freezer line (opencontainers/runc issue 4620, `cat /proc/21689/cgroup`)', () => {
    const c = container(
      parseProcCgroup(
        '13:freezer:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poda5c1f8d5_1919_434d_add7_4afaafdaef89.slice/crio-5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c.scope\n11:files:/',
      ),
    );
    assert.equal(c.containerId, '5eed917563583925ffdbd40a64efb2aaffe58638e57add8becaf460fe74f5b1c');
    assert.equal(c.runtime, 'cri-o');
    assert.equal(c.podUid, 'a5c1f8d5-1919-434d-add7-4afaafdaef89');
    assert.equal(c.qos, 'burstable');
  });

  it('crio-conmon scope is the monitor, not the container → host (opencontainers/runc issue 4620)', () => {
    // The path is the one `systemctl status crio-conmon-32da….scope` printed as CGroup: in that issue.
    const info = parseProcCgroup(
      '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod207aaad1_659f_4db8_88e0_46e0cdcc3004.slice/crio-conmon-32da98c8522068be05a7510a3eddb09cad6ed2f03286180d0e931d0d0b6224a6.scope',
    );
    assert.deepEqual(info, { host: true });
  });

  it('guaranteed pod, docker scope: kubepods-pod<uid>.slice (elastic/apm-agent-ruby spec/elastic_apm/metadata/system_info/container_info_spec.rb)', () => {
    const c = container(
      parseProcCgroup(
        '9:freezer:/kubepods.slice/kubepods-pod22949dce_fd8b_11ea_8ede_98f2b32c645c.slice/docker-b15a5bdedd2e7645c3be271364324321b908314e4c77857bbfd32a041148c07f.scope',
      ),
    );
    assert.equal(c.containerId, 'b15a5bdedd2e7645c3be271364324321b908314e4c77857bbfd32a041148c07f');
    assert.equal(c.runtime, 'docker');
    assert.equal(c.podUid, '22949dce-fd8b-11ea-8ede-98f2b32c645c');
    assert.equal(c.qos, 'guaranteed');
  });

  it('burstable pod, docker scope, v1 (lxc/lxc issue 3890, `cat /proc/self/cgroup` in a pod)', () => {
    const c = container(
      parseProcCgroup(
        '12:rdma:/\n11:freezer:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod7d4424e6_bb13_42f4_a47a_45a4828bf54d.slice/docker-d0b3604b67ac7930dd34ba3a796627e3e4717d12309e90a4afe3f38b6816ac98.scope',
      ),
    );
    assert.equal(c.containerId, 'd0b3604b67ac7930dd34ba3a796627e3e4717d12309e90a4afe3f38b6816ac98');
    assert.equal(c.runtime, 'docker');
    assert.equal(c.podUid, '7d4424e6-bb13-42f4-a47a-45a4828bf54d');
    assert.equal(c.qos, 'burstable');
  });

  it("static pod: 32-hex uid (netdata/netdata issue 4868's cgroup tree of a containerd node)", () => {
    // Path assembled from the tree listing in that issue (kubepods.slice > kubepods-burstable.slice > pod > scope).
    const c = container(
      parseProcCgroup(
        '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod8daa50c3a64c9ff60bb9eab7b44b56fd.slice/cri-containerd-2884d57c0e100d7a9a2f9487ce0bc2986bca3430e988af7a4865aff061f51ac5.scope',
      ),
    );
    assert.equal(c.podUid, '8daa50c3a64c9ff60bb9eab7b44b56fd');
    assert.equal(c.containerId, '2884d57c0e100d7a9a2f9487ce0bc2986bca3430e988af7a4865aff061f51ac5');
  });

  it("containerd's literal `<slice>:cri-containerd:<id>` form (elastic/apm-agent-nodejs issue 3550)", () => {
    const c = container(
      parseProcCgroup(
        '1:name=systemd:/system.slice/containerd.service/kubepods-burstable-podff49d0be_16b7_4a49_bb9e_8ec1f1f4e27f.slice:cri-containerd:0f99ad5f45163ed14ab8eaf92ed34bb4a631d007f8755a7d79be614bcb0df0ef',
      ),
    );
    assert.equal(c.containerId, '0f99ad5f45163ed14ab8eaf92ed34bb4a631d007f8755a7d79be614bcb0df0ef');
    assert.equal(c.runtime, 'containerd');
    assert.equal(c.podUid, 'ff49d0be-16b7-4a49-bb9e-8ec1f1f4e27f');
    assert.equal(c.qos, 'burstable');
  });
});

describe('parseProcCgroup: docker and nested paths', () => {
  it('plain docker on a hybrid host whose 0:: line names containerd.service (ctrsploit/ctrsploit issue 280)', () => {
    const text = [
      '12:net_cls,net_prio:/docker/2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d',
      '10:rdma:/',
      '2:cpu,cpuacct:/docker/2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d',
      '1:name=systemd:/docker/2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d',
      '0::/system.slice/containerd.service',
    ].join('\n');
    const c = container(parseProcCgroup(text));
    assert.equal(c.containerId, '2403ccfe427f1dc7b6120dccb9ac58c2f8456950380d587a9f33ea7f00dd303d');
    assert.equal(c.runtime, 'docker');
    assert.equal(c.podUid, undefined);
  });

  it('docker under systemd without Kubernetes (moby/moby issue 9365)', () => {
    const c = container(parseProcCgroup('8:blkio:/system.slice/docker-0bd31f558c426d46f30778cefbc727282e4f257537b42b361ea5d03a44f4febe.scope\n7:net_cls:/'));
    assert.equal(c.containerId, '0bd31f558c426d46f30778cefbc727282e4f257537b42b361ea5d03a44f4febe');
    assert.equal(c.runtime, 'docker');
    assert.equal(c.podUid, undefined);
  });

  it('cgroup namespace view with /../.. (grafana/phlare ebpf/sd/target_test.go)', () => {
    const c = container(
      parseProcCgroup(
        '0::/../../kubepods-besteffort-pod88f6f4e3_59c0_4ce8_9ecf_391c8b5a60ad.slice/docker-656959d9ee87a0b131c601ce9d9f8f76b1dda60e8608c503b5979d849cbdc714.scope',
      ),
    );
    assert.equal(c.containerId, '656959d9ee87a0b131c601ce9d9f8f76b1dda60e8608c503b5979d849cbdc714');
    assert.equal(c.runtime, 'docker');
    assert.equal(c.podUid, '88f6f4e3-59c0-4ce8-9ecf-391c8b5a60ad');
    assert.equal(c.qos, 'besteffort');
  });

  it('kubelet inside a docker container (minikube): the innermost container wins (kubernetes/minikube issue 11280)', () => {
    // Path assembled from that issue's `systemctl status kubepods.slice` (CGroup: /docker/<node>/kubepods.slice + tree).
    const c = container(
      parseCgroupPath(
        '/docker/d6701ec289c56e4391acb11d07474b3139466857a305490575508a8b7a9fcf22/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod2ca4a155_3599_498d_bb9d_4446693fa3ea.slice/crio-0ba8ac17e4e7a31fb82279503552fe94e64bab4745bf6fd2ff231e7c8ca8bed0.scope',
      )!,
    );
    assert.equal(c.containerId, '0ba8ac17e4e7a31fb82279503552fe94e64bab4745bf6fd2ff231e7c8ca8bed0');
    assert.equal(c.runtime, 'cri-o');
    assert.equal(c.podUid, '2ca4a155-3599-498d-bb9d-4446693fa3ea');
    assert.equal(c.qos, 'besteffort');
  });

  it('a cgroup below a container is still that container (elastic/apm-agent-go TestCgroupContainerInfoNonHex)', () => {
    // elastic's agent answers "no container" for this line; a process in a sub-cgroup a container created for itself
    // (systemd in a container, docker-in-docker) is inside that container, so here the container is kept.
    const c = container(parseProcCgroup('1:name=systemd:/docker/051e2ee0bce99116029a13df4a9e943137f19f957f38ac02d6bad96f9b700f76/not_hex'));
    assert.equal(c.containerId, '051e2ee0bce99116029a13df4a9e943137f19f957f38ac02d6bad96f9b700f76');
    assert.equal(c.runtime, 'docker');
  });
});

describe('parseProcCgroup: host processes', () => {
  it('a login session (elastic/apm-agent-go TestCgroupContainerInfoNonContainer)', () => {
    const text = [
      '12:devices:/user.slice',
      '11:hugetlb:/',
      '10:memory:/user.slice',
      '6:pids:/user.slice/user-1000.slice/session-2.scope',
      '3:net_cls,net_prio:/',
      '2:cpu,cpuacct:/user.slice',
      '1:name=systemd:/user.slice/user-1000.slice/session-2.scope',
      '0::/user.slice/user-1000.slice/session-2.scope',
    ].join('\n');
    assert.deepEqual(parseProcCgroup(text), { host: true });
  });

  it("this VM's own processes: a 32-hex leaf is not a container id", () => {
    // A frozen copy of this VM's /proc/self/cgroup, and the live file.
    const frozen = '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/cc46d3636b5d235f305f9aa341644343\n1:cpu:/\n0::/\n';
    assert.deepEqual(parseProcCgroup(frozen), { host: true });
    assert.deepEqual(parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8')), { host: true });
  });

  it('empty text and garbage are host', () => {
    assert.deepEqual(parseProcCgroup(''), { host: true });
    assert.deepEqual(parseProcCgroup('not a cgroup file\n'), { host: true });
    assert.equal(parseCgroupPath('/kubepods/besteffort/pod0e886e9a-3879-45f9-b44d-86ef9df03224'), undefined, 'a pod cgroup without a container');
  });
});

describe('/proc readers', () => {
  it('parseProcStatStartTime reads field 22 after a command name holding spaces and parentheses', async () => {
    // A real process whose comm is "a) b (c": a symlink to sleep under that name.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-stat-'));
    const exe = path.join(dir, 'a) b (c');
    fs.symlinkSync(execFileSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).trim(), exe);
    const child = spawn(exe, ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const pid = child.pid!;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      assert.match(stat, /\(a\) b \(c\)/, 'the comm really holds the awkward characters');
      const start = parseProcStatStartTime(stat);
      // Oracle: boot time + start ticks / CLK_TCK ≈ now - elapsed, from ps.
      const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
      const uptime = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
      const elapsed = Number(execFileSync('ps', ['-o', 'etimes=', '-p', String(pid)], { encoding: 'utf8' }).trim());
      assert.ok(Math.abs(uptime - start / ticks - elapsed) <= 2, `start ${start} ticks vs uptime ${uptime}s, elapsed ${elapsed}s`);
      assert.equal(await readProcStartTime('/proc', pid), start);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parseProcStatStartTime rejects malformed text', () => {
    assert.throws(() => parseProcStatStartTime('12 comm S 1'), /no "\)"/);
    assert.throws(() => parseProcStatStartTime('12 (x) S 1 2 3'), /field 22/);
  });

  it('readProcCgroup and readProcIdentity use the configured procRoot and return null for a gone process', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-proc-'));
    try {
      // A procRoot laid out like /proc, holding a real line (grafana/phlare) and this process's real stat.
      fs.mkdirSync(path.join(root, '4242'));
      fs.writeFileSync(
        path.join(root, '4242', 'cgroup'),
        '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podf9a04ecc_1875_491b_926c_d2f64757704e.slice/cri-containerd-47e320f795efcec1ecf2001c3a09c95e3701ed87de8256837b70b10e23818251.scope\n',
      );
      fs.writeFileSync(path.join(root, '4242', 'stat'), fs.readFileSync('/proc/self/stat'));
      const c = container((await readProcCgroup(root, 4242))!);
      assert.equal(c.containerId, '47e320f795efcec1ecf2001c3a09c95e3701ed87de8256837b70b10e23818251');
      const ident = await readProcIdentity(root, 4242);
      assert.equal(ident?.startTime, parseProcStatStartTime(fs.readFileSync('/proc/self/stat', 'utf8')));
      assert.equal(await readProcCgroup(root, 4243), null);
      assert.equal(await readProcIdentity(root, 4243), null);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a real process: identity while alive, null after it exits', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid!;
    const ident = await readProcIdentity('/proc', pid);
    assert.ok(ident && ident.pid === pid && ident.startTime > 0);
    assert.deepEqual(ident.cgroup, { host: true });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(await readProcIdentity('/proc', pid), null);
    assert.equal(await readProcCgroup('/proc', pid), null);
  });
});
