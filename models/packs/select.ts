/** Which model files a server loads: a pack (FACEREST_PACK), with single models overridden by path. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CUSTOM_PACK, DEFAULT_PACK, PACKS, packModels, type Pack } from './catalog.js';
import type { ModelFile, ModelRoleName } from '../inference/types.js';

export interface ModelOverrides {
  /** A name from PACKS, or 'custom' for models given by path only. Default: 'default'. */
  pack?: string;
  detectorPath?: string;
  recognizerPath?: string;
  landmarksPath?: string;
  /** An InsightFace genderage-layout model (age and gender). */
  genderAgePath?: string;
  /** SSR-Net-layout models, one per attribute (their graphs look alike). */
  agePath?: string;
  genderPath?: string;
}

export interface ModelSelection {
  detector: ModelFile;
  landmarks?: ModelFile;
  recognizer: ModelFile;
  /** Age and gender models (possibly none). */
  attributes: ModelFile[];
}

const ENV: Partial<Record<ModelRoleName, string>> = {
  detector: 'FACEREST_DETECTOR', recognizer: 'FACEREST_RECOGNIZER', landmarks: 'FACEREST_LANDMARKS',
  attributes: 'FACEREST_GENDERAGE',
};

function fromPath(role: ModelRoleName, path: string): ModelFile {
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`${role} model file not found: ${full}`);
  return { path: full, pack: CUSTOM_PACK };
}

/** The pack's cached models for a role; an error naming the fix when `required` and absent. */
function fromPack(pack: Pack | undefined, role: ModelRoleName, required: boolean): ModelFile[] {
  if (!pack) {
    if (required) throw new Error(`FACEREST_PACK=${CUSTOM_PACK} needs ${ENV[role]} (an ONNX file path)`);
    return [];
  }
  const files = packModels(pack, role);
  const missing = files.filter((f) => !existsSync(f.path));
  if (missing.length > 0 && required) {
    const how = pack.name === DEFAULT_PACK.name ? "'npm run models' (npm ci does it)" : `'npm run models -- ${pack.name}'`;
    throw new Error(`pack '${pack.name}' is not fetched (${missing[0].path} is missing): run ${how}, `
      + `or give the ${role} model by path in ${ENV[role]}`);
  }
  return files.filter((f) => existsSync(f.path));
}

export function selectModels(o: ModelOverrides): ModelSelection {
  const name = o.pack ?? DEFAULT_PACK.name;
  if (name !== CUSTOM_PACK && !PACKS[name]) {
    throw new Error(`unknown pack '${name}'; known packs: ${[...Object.keys(PACKS), CUSTOM_PACK].join(', ')}`);
  }
  const pack = PACKS[name];
  const one = (role: ModelRoleName, override?: string) => (override ? fromPath(role, override) : fromPack(pack, role, true)[0]);
  return {
    detector: one('detector', o.detectorPath),
    // Needed only for detectors without keypoints (the worker decides); packs without a
    // landmark model borrow the default pack's when it is fetched.
    landmarks: o.landmarksPath
      ? fromPath('landmarks', o.landmarksPath)
      : fromPack(pack, 'landmarks', false)[0] ?? fromPack(DEFAULT_PACK, 'landmarks', false)[0],
    recognizer: one('recognizer', o.recognizerPath),
    attributes: attributeOverrides(o) ?? fromPack(pack, 'attributes', false),
  };
}

/** Attribute models given by path replace all of the pack's. */
function attributeOverrides(o: ModelOverrides): ModelFile[] | undefined {
  const files: ModelFile[] = [];
  if (o.genderAgePath) files.push(fromPath('attributes', o.genderAgePath));
  if (o.agePath) files.push({ ...fromPath('attributes', o.agePath), predicts: 'age' });
  if (o.genderPath) files.push({ ...fromPath('attributes', o.genderPath), predicts: 'gender' });
  return files.length > 0 ? files : undefined;
}
