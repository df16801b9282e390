// Process helpers for the benchmarks: CPU time and memory of a process from /proc (Linux), CPU
// pinning with taskset, and a registry of child processes so that none outlives the benchmark.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

let ticksPerSecond;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on almost every Linux). */
export function clockTicksPerSecond() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * CPU time (user + system, all threads) a process has used, in µs: fields 14 and 15 of
 * /proc/<pid>/stat (proc(5)). The command name in field 2 may hold spaces, so fields are counted
 * from the closing parenthesis. Resolution is one clock tick (10 ms at USER_HZ = 100).
 */
export function cpuTimeUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / clockTicksPerSecond();
}

/** Resident set size of a process in bytes (VmRSS in /proc/<pid>/status). */
export function rssBytes(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** The cores to pin the server and the load generator to: 0 and 1 when there are two or more. */
export function pinning() {
  const cores = availableParallelism();
  const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  if (cores < 2 || !hasTaskset) return { server: undefined, generator: undefined, cores, note: hasTaskset ? 'one core: not pinned' : 'taskset missing: not pinned' };
  return { server: 0, generator: 1, cores, note: 'server on core 0, sipp on core 1' };
}

/** Command and arguments that run `cmd args` on one core (taskset execs the command: same pid). */
export function pinned(core, cmd, args) {
  return core === undefined ? [cmd, args] : ['taskset', ['-c', String(core), cmd, ...args]];
}

const children = new Set();

/** Remember a child so killAll() (run on exit and on signals) can end it. */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGKILL every tracked child that is still running. Synchronous: safe in an 'exit' handler. */
export function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

let installed = false;

/** Kill the children when this process ends, however it ends. */
export function installCleanup() {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    killAll();
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    killAll();
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}

/** Resolves when the child has exited; SIGTERM first, SIGKILL after graceMs. */
export function stopChild(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The first IPC message `{cmd}` from a forked child (engine, generator); rejects if the child exits first. */
export function once(child, cmd) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (m.cmd !== cmd) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code) => reject(new Error(`child exited (${code}) while waiting for ${cmd}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}
