/** Facts about where and on what a report was measured. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineFacts {
  hostname: string;
  platform: string;
  arch: string;
  cpuModel: string;
  cpus: number;
  totalMemoryBytes: number;
  node: string;
  /** 1/5/15-minute load averages when the run started and ended: other work on the machine skews every number. */
  loadAverageStart: number[];
  loadAverageEnd?: number[];
}

export interface GitFacts {
  commit: string | null;
  /** The working tree differs from the commit (changed or untracked files outside bench/results), so the numbers are not exactly the commit's. */
  dirty: boolean | null;
  uncommittedFiles: number | null;
}

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: os.availableParallelism?.() ?? cpus.length,
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    loadAverageStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function gitFacts(cwd: string): GitFacts {
  // Read-only: GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing the index.
  const env = { ...process.env, GIT_OPTIONAL_LOCKS: '0' };
  const git = (args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  let commit: string | null = null;
  try {
    commit = git(['rev-parse', 'HEAD']).trim();
  } catch {
    return { commit, dirty: null, uncommittedFiles: null };
  }
  try {
    const changed = git(['status', '--porcelain'])
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.slice(3).startsWith('bench/results/'));
    return { commit, dirty: changed.length > 0, uncommittedFiles: changed.length };
  } catch {
    return { commit, dirty: null, uncommittedFiles: null };
  }
}
