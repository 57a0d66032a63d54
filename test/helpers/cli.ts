import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const CLI = path.resolve(import.meta.dirname, '../../bin/lighttrail.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `lighttrail ...args` to completion with `env` laid over a clean LightTrail-free env. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CliResult> {
  return spawnCommand(process.execPath, [CLI, ...args], env, timeoutMs).result;
}

/**
 * Starts `command ...args` as runCli does (another installation's `lighttrail`, or the CLI as
 * another user): the child, to signal it, and its result once it ends, killed after `timeoutMs`.
 */
export function spawnCommand(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): { child: ChildProcess; result: Promise<CliResult> } {
  const child = spawn(command, args, { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const result = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => (stdout += chunk));
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

  return { child, result };
}

export function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LIGHTTRAIL_')) base[key] = value;
  }

  return { ...base, ...env };
}

export interface RunningServer {
  child: ChildProcess;
  port: number;
  output: () => { stdout: string; stderr: string };
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `lighttrail start` and resolves once it printed its URL. */
export function startServer(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'start'], {
      env: cliEnv({ LIGHTTRAIL_PORT: '0', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${stderr}`));
    }, timeoutMs);
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const match = /running at https:\/\/localhost:(\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          port: Number(match[1]),
          output: () => ({ stdout, stderr }),
          stop: async (signal = 'SIGTERM') => {
            child.kill(signal);

            return exited;
          },
        });
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr}`));
    });
  });
}
