/** facerest entry point (the process itself is in run.ts). */
import { run } from './run.js';

await run();
