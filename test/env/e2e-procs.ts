// auditflow components as separate processes, the way the DaemonSets and the Deployment run them: the real
// bin, pino logs on stderr kept for failure messages, SIGTERM to stop (SIGKILL after a grace period).
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli';

export interface Component {
  name: string;
  child: ChildProcess;
  /** stderr so far (pino JSON lines) */
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(graceMs?: number): Promise<void>;
}

export function startComponent(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Component {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'info', ...env },
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    name,
    child,
    log: () => err,
    exited,
    async stop(graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The last `n` characters of each component's log, for an assertion message. */
export function logsOf(components: Component[], n = 2500): string {
  return components.map((c) => `--- ${c.name} (${c.child.exitCode ?? c.child.signalCode ?? 'running'}):\n${c.log().slice(-n)}`).join('\n');
}
