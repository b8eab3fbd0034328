/**
 * Model packs: named sets of model files with where they come from and how to check them.
 * `default` must be obtainable on a machine whose only source is the npm registry; the
 * InsightFace packs are zip files from InsightFace's v0.7 GitHub release.
 */
import { join } from 'node:path';
import { weightsDir } from './paths.js';
import type { ModelFile, ModelRoleName, Normalisation } from '../inference/types.js';

export interface PackFile {
  role: ModelRoleName;
  /** Path inside an npm tarball; for zip packs, the file's name anywhere in the zip. */
  source: string;
  /** File name in the pack's cache folder. */
  file: string;
  /** Known sha256 of the file; files without one are covered by the archive's checksum. */
  sha256?: string;
  normalisation?: Normalisation;
  predicts?: ModelFile['predicts'];
  samePersonThreshold?: number;
}

interface PackBase {
  name: string;
  license: string;
  files: PackFile[];
}

export interface NpmPack extends PackBase {
  kind: 'npm';
  /** npm package spec, pinned to one version. */
  npm: string;
  /** The registry's integrity string for that version's tarball. */
  integrity: string;
}

export interface ZipPack extends PackBase {
  kind: 'zip';
  url: string;
  /** sha256 of the zip file. */
  sha256: string;
}

export type Pack = NpmPack | ZipPack;

export const DEFAULT_PACK: NpmPack = {
  kind: 'npm',
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
      // The best-accuracy cut on ../shared/faces/deepface/pairs.csv (test/accuracy.test.ts):
      // since issue 13 every pair is called right, different-person pairs up to 0.410, same-person
      // from 0.452 since issue 14's plain linear detector input and halved alignment view (0.430
      // and 0.455 before them; 0.428 and 0.454 before its triangle-filter max_size resize). (0.425
      // before issue 13: the gap was 0.415-0.435 until large faces were antialiased before
      // alignment, and no cut called every pair right before the detector input changed.)
      samePersonThreshold: 0.44,
    },
    {
      role: 'attributes', source: 'package/model/fr_age.onnx', file: 'fr_age.onnx', predicts: 'age',
      sha256: '74c9b01700cb9ef96f7190a2230218414ff99d231415c4b091a755780cad5e8a',
    },
    {
      role: 'attributes', source: 'package/model/fr_gender.onnx', file: 'fr_gender.onnx', predicts: 'gender',
      sha256: 'a003e8392a617ca834c7ca2c01e0895f5c354217fb56cd0373935e6e9b9c396e',
    },
  ],
};

const INSIGHTFACE_RELEASE = 'https://github.com/deepinsight/insightface/releases/download/v0.7';
const INSIGHTFACE_LICENSE = 'InsightFace pretrained weights: non-commercial research use only';

// Checksums: the archive sums and the sums of det_10g, w600k_r50, w600k_mbf, glintr100 are as
// published by projects that pin these archives (they could not be re-downloaded from here);
// det_500m's and det_2.5g's agree with the copies in ../shared/models (see its README).
const DET_500M = '5e4447f50245bbd7966bd6c0fa52938c61474a04ec7def48753668a9d8b4ea3a';
const DET_2_5G = '041f73f47371333d1d17a6fee6c8ab4e6aecabefe398ff32cca4e2d5eaee0af9';
const DET_10G = '5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91';
const W600K_R50 = '4c06341c33c2ca1f86781dab0e829f88ad5b64be9fba56e56bc9ebdefc619e43';
const W600K_MBF = '9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f';
const GLINTR100 = '4ab1d6435d639628a6f3e5008dd4f929edf4c4124b1a7169e1048f9fef534cdf';

function insightFacePack(name: string, sha256: string, detector: [string, string], recognizer: [string, string], genderAge: boolean): ZipPack {
  const files: PackFile[] = [
    { role: 'detector', source: detector[0], file: detector[0], sha256: detector[1] },
    { role: 'recognizer', source: recognizer[0], file: recognizer[0], sha256: recognizer[1] },
  ];
  if (genderAge) files.push({ role: 'attributes', source: 'genderage.onnx', file: 'genderage.onnx' });
  return { kind: 'zip', name, url: `${INSIGHTFACE_RELEASE}/${name}.zip`, sha256, license: INSIGHTFACE_LICENSE, files };
}

export const PACKS: Record<string, Pack> = {
  default: DEFAULT_PACK,
  buffalo_l: insightFacePack('buffalo_l', '80ffe37d8a5940d59a7384c201a2a38d4741f2f3c51eef46ebb28218a7b0ca2f',
    ['det_10g.onnx', DET_10G], ['w600k_r50.onnx', W600K_R50], true),
  buffalo_m: insightFacePack('buffalo_m', 'd98264bd8f2dc75cbc2ddce2a14e636e02bb857b3051c234b737bf3b614edca9',
    ['det_2.5g.onnx', DET_2_5G], ['w600k_r50.onnx', W600K_R50], true),
  buffalo_s: insightFacePack('buffalo_s', 'd85a87f503f691807cd8bb97128bdf7a0660326cd9cd02657127fa978bab8b5e',
    ['det_500m.onnx', DET_500M], ['w600k_mbf.onnx', W600K_MBF], true),
  buffalo_sc: insightFacePack('buffalo_sc', '57d31b56b6ffa911c8a73cfc1707c73cab76efe7f13b675a05223bf42de47c72',
    ['det_500m.onnx', DET_500M], ['w600k_mbf.onnx', W600K_MBF], false),
  antelopev2: insightFacePack('antelopev2', '8e182f14fc6e80b3bfa375b33eb6cff7ee05d8ef7633e738d1c89021dcf0c5c5',
    ['scrfd_10g_bnkps.onnx', DET_10G], ['glintr100.onnx', GLINTR100], true),
};

/** The pseudo-pack of models given by path only (FACEREST_DETECTOR, FACEREST_RECOGNIZER, ...). */
export const CUSTOM_PACK = 'custom';

export function packDir(pack: { name: string }): string {
  return join(weightsDir(), pack.name);
}

/** The pack's models for a role, as files the zoo can load. */
export function packModels(pack: Pack, role: ModelRoleName): ModelFile[] {
  return pack.files.filter((p) => p.role === role).map((f) => ({
    path: join(packDir(pack), f.file), pack: pack.name, normalisation: f.normalisation, predicts: f.predicts,
    samePersonThreshold: f.samePersonThreshold,
  }));
}
