/** The process around the server: config -> listen -> models -> drain on SIGTERM/SIGINT. Logs are JSON (pino). */
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { startServer, VERSION, type StartOptions } from './app.js';
import { nameLibuvThreads } from './thread-names.js';
import { jpegDecoderStatus } from './pipeline/turbojpeg.js';
import { detectorResizeStatus } from '../models/inference/native-resize.js';
import { faceSamplingStatus } from '../models/inference/native-sampling.js';
import { colourConversionStatus } from './pipeline/to-srgb.js';

/** Runs facerest in this process until a signal ends it (main.ts; tests pass a worker wrapper). */
export async function run(options: StartOptions = {}): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`facerest: configuration error: ${(err as Error).message}`);
    process.exit(2);
  }
  const log = pino({ level: config.logLevel, base: { service: 'facerest' } });
  // Thread names tell where the CPU goes (issue 14: npm run bench's split, top -H).
  void nameLibuvThreads();
  // A log reader that goes away (a closed pipe) must not take the service down with it.
  process.stdout.on('error', () => undefined);

  try {
    const server = await startServer(config, log, options);
    // Handlers first, logs after: a supervisor that signals as soon as it reads 'ready' must not
    // meet the default SIGTERM action (seen in tests under load, between the log and process.on).
    let draining = false;
    const stop = async (signal: string) => {
      if (draining) return;
      draining = true;
      log.info({ signal, drainSeconds: config.drainSeconds }, 'draining');
      // Workers still loading are running ONNX Runtime; ending them mid-run aborts the process.
      await server.ready.catch(() => undefined);
      await server.drain();
      log.info('stopped');
      log.flush();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    log.info({
      port: server.port, version: VERSION, tls: Boolean(config.tls), apiKeys: config.apiKeys.length,
    }, 'listening');
    const models = await server.ready;
    log.info({
      workers: config.workers, models: models.map((m) => `${m.role}=${m.family}:${m.name}`),
      jpegDecoder: jpegDecoderStatus(config.jpegDecoder), detectorResize: detectorResizeStatus(),
      colourConversion: colourConversionStatus(), faceSampling: faceSamplingStatus(),
    }, 'ready');
  } catch (err) {
    console.error(`facerest: cannot start: ${(err as Error).message}`);
    process.exit(1);
  }
}
