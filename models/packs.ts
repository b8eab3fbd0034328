/**
 * Model packs: named sets of model files with where they come from and how to check them.
 * The default pack must be obtainable on a machine whose only source is the npm registry.
 */
import { join } from 'node:path';
import { weightsDir } from './paths.js';
import type { ModelFile, ModelRoleName, Normalisation } from './types.js';

export interface PackFile {
  role: ModelRoleName;
  /** Path inside the source archive. */
  source: string;
  /** File name in the pack's cache folder. */
  file: string;
  sha256: string;
  normalisation?: Normalisation;
}

export interface NpmPack {
  name: string;
  /** npm package spec, pinned to one version. */
  npm: string;
  /** The registry's integrity string for that version's tarball. */
  integrity: string;
  license: string;
  files: PackFile[];
}

export const DEFAULT_PACK: NpmPack = {
  name: 'default',
  npm: 'faceplugin-face-recognition-js@0.0.1',
  integrity: 'sha512-shriXjd4zJHEwhK1jHK+bWo8Vv6Vu9B/w6RRsd4AFtNM/jaI2vhuOamOSMl9qQmLd8WlQ7dgqN+3C2iOi5pXWw==',
  license: 'MIT',
  files: [
    {
      role: 'detector', source: 'package/model/fr_detect.onnx', file: 'fr_detect.onnx',
      sha256: '6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854',
    },
    {
      role: 'landmarks', source: 'package/model/fr_landmark.onnx', file: 'fr_landmark.onnx',
      sha256: 'f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258',
    },
    {
      role: 'recognizer', source: 'package/model/fr_feature.onnx', file: 'fr_feature.onnx',
      sha256: '87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581',
      // As the package's own preprocessing: RGB, (x - 127) / 128.
      normalisation: { mean: 127, std: 128, order: 'rgb' },
    },
  ],
};

export function packDir(pack: { name: string }): string {
  return join(weightsDir(), pack.name);
}

/** The pack's models for a role, as files the zoo can load. */
export function packModels(pack: NpmPack, role: ModelRoleName): ModelFile[] {
  return pack.files.filter((p) => p.role === role).map((f) => ({
    path: join(packDir(pack), f.file), pack: pack.name, normalisation: f.normalisation,
  }));
}
