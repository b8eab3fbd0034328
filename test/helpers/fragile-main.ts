/**
 * The real server process (server/run.ts) with the inference workers of fragile-worker.ts, which
 * misbehave on cue: for tests of worker failures against the whole server.
 */
import { run } from '../../server/run.js';

await run({ workerScript: new URL('./fragile-worker.js', import.meta.url) });
