/** facerest entry point: config -> models -> listen -> drain on SIGTERM/SIGINT. */
import { loadConfig } from './config.js';
import { startServer, VERSION } from './app.js';

const log = (fields: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), ...fields }));

let config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`facerest: configuration error: ${(err as Error).message}`);
  process.exit(2);
}

try {
  const server = await startServer(config);
  log({ msg: 'listening', port: server.port, version: VERSION });
  const models = await server.ready;
  log({ msg: 'ready', workers: config.workers, models: models.map((m) => `${m.role}=${m.family}:${m.name}`) });
  let draining = false;
  const stop = async (signal: string) => {
    if (draining) return;
    draining = true;
    log({ msg: 'draining', signal });
    await server.drain();
    log({ msg: 'stopped' });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
} catch (err) {
  console.error(`facerest: cannot start: ${(err as Error).message}`);
  process.exit(1);
}
