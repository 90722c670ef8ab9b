import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A free TCP port on 127.0.0.1, found synchronously (usable while a spec file loads). */
export function freePort(): number {
  return Number(
    execFileSync(process.execPath, [
      '-e',
      // `process.stdout.write` of a string: `console.log` of a number is coloured when
      // FORCE_COLOR is set, as it is in Playwright's workers.
      "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})",
    ])
      .toString()
      .trim(),
  );
}

/**
 * A program that a spec starts for itself, stopped with `stop()`. Its output is kept in
 * `logFile` (in the folder of the servers' logs) to be read after a failure.
 */
export class Started {
  private output = '';

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
      appendFileSync(logFile, chunk);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Waits until `ready()` holds, failing with the program's last output if it exits. */
  async waitUntil(ready: () => Promise<boolean>, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(`${this.name} exited with ${this.child.exitCode} (log: ${this.logFile}):\n${this.output}`);
      }
      if (await ready().catch(() => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${this.name} did not become ready (log: ${this.logFile}):\n${this.output}`);
  }

  async stop() {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/**
 * Starts `command` with `env` added to this process's environment; its output goes to
 * `<name>.log` in the servers' log folder (IDP_TEST_LOG_DIR, which the Playwright
 * configuration sets).
 */
export function start(name: string, command: string, args: string[], env: Record<string, string> = {}): Started {
  const logDir = process.env.IDP_TEST_LOG_DIR ?? tmpdir();
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.log`);
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Started(name, child, logFile);
}

/** Whether an HTTP GET of `url` gets any answer below 500 (redirects not followed). */
export async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { redirect: 'manual' });
  return response.status < 500;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
