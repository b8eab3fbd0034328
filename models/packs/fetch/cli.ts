/**
 * `npm run models [-- <pack>]`: fetches and verifies a model pack into models/weights/<pack>.
 * `npm run models -- --list` shows the packs. FACEREST_PACK_MIRROR points zip packs at a local
 * mirror of the same files.
 */
import { PACKS } from '../catalog.js';
import { fetchPack } from './fetch-pack.js';

const arg = process.argv[2] ?? 'default';
if (arg === '--list') {
  for (const p of Object.values(PACKS)) {
    console.log(`${p.name.padEnd(12)} ${p.files.map((f) => `${f.role}=${f.file}`).join(' ')}  [${p.license}]`);
  }
  process.exit(0);
}
const pack = PACKS[arg];
if (!pack) {
  console.error(`facerest models: unknown pack '${arg}'; known packs: ${Object.keys(PACKS).join(', ')}`);
  process.exit(2);
}
try {
  await fetchPack(pack, (line) => console.log(line), { mirror: process.env.FACEREST_PACK_MIRROR || undefined });
} catch (err) {
  console.error(`facerest models: ${(err as Error).message}`);
  process.exit(1);
}
