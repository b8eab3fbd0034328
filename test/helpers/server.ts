/** Starts the real facerest server (dist/server/main.js) as a child process on a free port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before } from 'node:test';
import { FaceGrpcClient } from '../../clients/node/grpc-client.js';
import { PROJECT_ROOT } from '../../models/packs/paths.js';

export interface TestServer {
  port: number;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  /** 127.0.0.1:PORT, for grpc-js */
  address: string;
  process: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** The server's log lines (JSON, one per line) so far. */
  logs(): Record<string, unknown>[];
  stop(): Promise<number | null>;
}

/**
 * The node options `npm start` gives the server (package.json's start script: the main thread's
 * V8 heap), so that the tests and the bench run it as users start it.
 */
const START_OPTIONS: string[] = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')).scripts.start as string)
  .split(/\s+/).filter((arg) => arg.startsWith('--'));

/**
 * Resolves once the server logs `until`: 'ready' (models loaded, the default) or 'listening'
 * (port open, models possibly still loading). `entry`: the process's script under the project
 * root (test/helpers/fragile-main.ts runs the server with misbehaving workers).
 */
export async function startServer(env: Record<string, string> = {}, until: 'ready' | 'listening' = 'ready',
  entry = 'dist/server/main.js'): Promise<TestServer> {
  // Each server gets its own empty gallery unless the test names one.
  const dataDir = env.FACEREST_DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'facerest-test-data-'));
  const child = spawn(process.execPath, [...START_OPTIONS, join(PROJECT_ROOT, entry)], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', FACEREST_WORKERS: '2', ...(dataDir ? { FACEREST_DATA_DIR: dataDir } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const lines = createInterface({ input: child.stdout! });
  const logs: Record<string, unknown>[] = [];
  lines.on('line', (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch { /* not a log line */ }
  });
  let listeningPort = 0;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ${until}: ${stderr}`));
    });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        if (entry.msg === 'listening') listeningPort = entry.port;
        if (entry.msg === until) {
          clearTimeout(timer);
          resolve(listeningPort);
        }
      } catch { /* not a log line */ }
    });
  });
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    process: child,
    stderr: () => stderr,
    logs: () => logs,
    async stop() {
      let code = child.exitCode;
      if (code === null) {
        child.kill('SIGTERM');
        [code] = await once(child, 'exit') as [number | null];
      }
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * Registers before/after hooks that start a server (with `env`) and a grpc-js client on it for
 * the enclosing suite; read them from the returned object inside tests.
 */
export function serverWithClient(env: Record<string, string> = {}): { server: TestServer; client: FaceGrpcClient } {
  const fixture = {} as { server: TestServer; client: FaceGrpcClient };
  before(async () => {
    fixture.server = await startServer(env);
    fixture.client = new FaceGrpcClient(fixture.server.address);
  });
  after(async () => {
    fixture.client?.close();
    await fixture.server?.stop();
  });
  return fixture;
}
