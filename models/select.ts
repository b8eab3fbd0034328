/** Which model files a server loads: the default pack, with single models overridden by path. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_PACK, packModels } from './packs.js';
import type { ModelFile, ModelRoleName } from './types.js';

export interface ModelOverrides {
  detectorPath?: string;
  recognizerPath?: string;
  landmarksPath?: string;
  /** An InsightFace genderage-layout model (age and gender). */
  genderAgePath?: string;
}

export interface ModelSelection {
  detector: ModelFile;
  landmarks?: ModelFile;
  recognizer: ModelFile;
  /** Age and gender models (possibly none). */
  attributes: ModelFile[];
}

function pick(role: ModelRoleName, override: string | undefined, required: boolean): ModelFile | undefined {
  if (override) {
    const path = resolve(override);
    if (!existsSync(path)) throw new Error(`${role} model file not found: ${path}`);
    return { path, pack: 'custom' };
  }
  const [file] = packModels(DEFAULT_PACK, role);
  if (file && existsSync(file.path)) return file;
  if (!required) return undefined;
  throw new Error(`the default pack's ${role} model is missing (${file?.path}): run 'npm run models' `
    + '(npm ci does it), or give a model file by path');
}

export function selectModels(o: ModelOverrides): ModelSelection {
  return {
    detector: pick('detector', o.detectorPath, true)!,
    // The landmark model matters only for detectors without keypoints; the worker decides.
    landmarks: pick('landmarks', o.landmarksPath, false),
    recognizer: pick('recognizer', o.recognizerPath, true)!,
    attributes: o.genderAgePath
      ? [pick('attributes', o.genderAgePath, true)!]
      : packModels(DEFAULT_PACK, 'attributes').filter((f) => existsSync(f.path)),
  };
}
