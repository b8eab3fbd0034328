/** `npm run models [-- <pack>]`: fetches and verifies a model pack into models/weights/. */
import { DEFAULT_PACK } from '../packs.js';
import { fetchNpmPack } from './npm-pack.js';

const PACKS = { default: DEFAULT_PACK };

const name = process.argv[2] ?? 'default';
const pack = PACKS[name as keyof typeof PACKS];
if (!pack) {
  console.error(`unknown pack '${name}'; known packs: ${Object.keys(PACKS).join(', ')}`);
  process.exit(2);
}
try {
  await fetchNpmPack(pack, (line) => console.log(line));
} catch (err) {
  console.error(`facerest models: ${(err as Error).message}`);
  process.exit(1);
}
