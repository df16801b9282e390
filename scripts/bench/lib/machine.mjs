// The machine a benchmark ran on, for the heading of its results (bench summary, soak table).
import { spawnSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { pinning } from './proc.mjs';
import { sippVersion } from './sipp.mjs';

export function machine() {
  const lscpu = spawnSync('lscpu', [], { encoding: 'utf8' });
  const model = /^Model name:\s*(.+)$/m.exec(lscpu.stdout ?? '')?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(spawnSync('nproc', [], { encoding: 'utf8' }).stdout?.trim()) || cpus().length,
    cpu: model,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    sipp: sippVersion() ?? 'not installed',
    pinning: pinning().note,
  };
}
