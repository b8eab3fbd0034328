/**
 * A face's quality for recognition: head pose from the five landmarks, and scores for pose,
 * sharpness, brightness and size that multiply into `overall`, so one bad part is enough to
 * make a face a poor one. The pixel figures come from the worker (server/worker/face-pixels.ts);
 * the constants below were measured on ../shared/faces (bench/quality-study.ts, README
 * "Face quality").
 */
import type { FaceQuality } from '../../gen/facerest/v1/face_service_pb.js';
import type { FacePixels } from '../worker/face-pixels.js';

/** The contract's FaceQuality (its comments say what each field means), as a plain object. */
export type Quality = Omit<FaceQuality, '$typeName' | '$unknown'>;

/**
 * A generic face (x right, y down, z away from the camera), left-right symmetric so that a
 * mirrored face gets the opposite yaw and roll. x and y are the mean of the five landmarks of
 * the 61 deepface portraits, each aligned onto the ArcFace 112x112 template (the default pack and
 * SCRFD-2.5G gave the same means within 1 px): the template itself puts the mouth 2.4 px lower,
 * which read every portrait as 12 degrees chin down. Depths, relative to the eyes: the nose tip
 * 0.45 of the eye distance toward the camera, the mouth corners nearly level with the eyes
 * (average adult head proportions).
 */
const EYE_X = 18.4, EYE_Y = 52.8, NOSE_Y = 74.1, MOUTH_X = 16.7, MOUTH_Y = 89.9;
const NOSE_Z = -16.5, MOUTH_Z = -1;
export const GENERIC_HEAD: readonly (readonly [number, number, number])[] = [
  [-EYE_X, EYE_Y, 0], [EYE_X, EYE_Y, 0], [0, NOSE_Y, NOSE_Z], [-MOUTH_X, MOUTH_Y, MOUTH_Z], [MOUTH_X, MOUTH_Y, MOUTH_Z],
];

type Vec3 = [number, number, number];
const DEG = 180 / Math.PI;

function centred(points: readonly (readonly number[])[]): number[][] {
  const dims = points[0].length;
  const mean = Array.from({ length: dims }, (_, k) => points.reduce((s, p) => s + p[k], 0) / points.length);
  return points.map((p) => p.map((v, k) => v - mean[k]));
}

const HEAD_C = centred(GENERIC_HEAD);

function inverse3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/** (P P^T)^-1 P^T of the head: the least-squares solve for a 2x3 projection is then one product. */
const HEAD_SOLVE: number[][] = (() => {
  const ppt = [0, 1, 2].map((r) => [0, 1, 2].map((c) => HEAD_C.reduce((s, p) => s + p[r] * p[c], 0)));
  const inv = inverse3(ppt);
  return HEAD_C.map((p) => [0, 1, 2].map((r) => inv[r][0] * p[0] + inv[r][1] * p[1] + inv[r][2] * p[2]));
})();

const cross = (u: Vec3, v: Vec3): Vec3 => [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];

/**
 * Yaw, pitch and roll of the head from five landmarks (x0,y0,...,x4,y4 in the image's pixels):
 * the scaled orthographic projection of the generic head that best fits them (least squares),
 * made a rotation by its polar factor, read as R = Rz(roll) Ry(yaw) Rx(pitch).
 */
export function headPose(landmarks: ArrayLike<number>): { yaw: number; pitch: number; roll: number } {
  const image = centred([0, 1, 2, 3, 4].map((k) => [landmarks[2 * k], landmarks[2 * k + 1]]));
  // M = X (P P^T)^-1 P^T, row by row: the projection's two rows.
  const row = (axis: number): Vec3 => [0, 1, 2].map((r) => image.reduce((s, p, k) => s + p[axis] * HEAD_SOLVE[k][r], 0)) as Vec3;
  const m1 = row(0), m2 = row(1);
  // Polar factor of the 2x3 M: (M M^T)^-1/2 M, the nearest pair of orthonormal rows.
  const a = m1[0] ** 2 + m1[1] ** 2 + m1[2] ** 2;
  const b = m1[0] * m2[0] + m1[1] * m2[1] + m1[2] * m2[2];
  const d = m2[0] ** 2 + m2[1] ** 2 + m2[2] ** 2;
  const s = Math.sqrt(Math.max(0, a * d - b * b));
  const t = Math.sqrt(a + d + 2 * s);
  if (!(s > 0) || !(t > 0)) return { yaw: 0, pitch: 0, roll: 0 };
  // sqrt([[a, b], [b, d]]) = ([[a, b], [b, d]] + s I) / t; its inverse in closed form.
  const [p, q, r] = [(a + s) / t, b / t, (d + s) / t];
  const det = p * r - q * q;
  const [ip, iq, ir] = [r / det, -q / det, p / det];
  const r1 = m1.map((v, k) => ip * v + iq * m2[k]) as Vec3;
  const r2 = m1.map((v, k) => iq * v + ir * m2[k]) as Vec3;
  const r3 = cross(r1, r2);
  const yawRad = Math.asin(Math.max(-1, Math.min(1, -r3[0])));
  // The head's own yaw turns the nose toward -x and its pitch moves it down: both are negated so
  // that a positive yaw is toward the image's right and a positive pitch is chin up.
  return {
    yaw: -yawRad * DEG,
    pitch: -Math.atan2(r3[1], r3[2]) * DEG,
    roll: Math.atan2(r2[0], r1[0]) * DEG,
  };
}

/** Where each part's score falls to zero or reaches one; see the module comment for where measured. */
export const QUALITY_SCALE = {
  /**
   * Pose scores 1 - (angle / limit)^2: 0 at these many degrees. Pitch from five points is the
   * least certain angle (expression and face shape move the mouth corners): the deepface
   * portraits, nearly all facing the camera, spread from -26 to +27 degrees.
   */
  yawLimit: 60,
  pitchLimit: 60,
  /**
   * Sharpness is d^2 / (d^2 + h^2) for a Laplacian-to-luma variance ratio d: 0.5 at d = h, which
   * the portraits blurred with a sigma of 4 px had (their embeddings kept a cosine of 0.96 to
   * the sharp photo's; at sigma 8, 0.77). Untouched portraits have d from 0.12 to 0.7.
   */
  detailHalf: 0.056,
  /**
   * Brightness scores 1 between the inner pair and falls to 0 at the outer ones. Untouched
   * portraits are 0.5 to 0.75; darkened to 0.12 (cosine 0.90) they score about 0.4, to 0.07
   * (cosine 0.79) about 0.1. Overexposure costs more: clipped to 0.85 the cosine was 0.92, to
   * 0.91 it was 0.73.
   */
  darkZero: 0.05, darkOne: 0.25, brightOne: 0.8, brightZero: 0.95,
  /**
   * Size scores 0 at this many original pixels and 1 from the next: faces shrunk to 48 px kept a
   * cosine of 0.93, to 64 px 0.975, to 96 px 0.99; at 32 px most were not found.
   */
  sizeZero: 24, sizeOne: 80,
} as const;

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
const ramp = (v: number, zero: number, one: number) => clamp01((v - zero) / (one - zero));

/** The four part scores that multiply into `overall`. */
export function partScores(q: Omit<Quality, 'overall'>): { pose: number; sharpness: number; brightness: number; size: number } {
  const s = QUALITY_SCALE;
  return {
    pose: clamp01(1 - (q.yaw / s.yawLimit) ** 2) * clamp01(1 - (q.pitch / s.pitchLimit) ** 2),
    sharpness: q.sharpness,
    brightness: Math.min(ramp(q.brightness, s.darkZero, s.darkOne), ramp(q.brightness, s.brightZero, s.brightOne)),
    size: ramp(q.sizePx, s.sizeZero, s.sizeOne),
  };
}

/**
 * A face's quality from its landmarks and box side in original pixels and its pixel figures.
 * Without landmarks (an image that was an aligned face already) the pose is unknown, read as 0.
 */
export function assessFace(landmarks: ArrayLike<number> | undefined, sizePx: number, pixels: FacePixels): Quality {
  const pose = landmarks ? headPose(landmarks) : { yaw: 0, pitch: 0, roll: 0 };
  const parts = {
    ...pose,
    sharpness: pixels.detail ** 2 / (pixels.detail ** 2 + QUALITY_SCALE.detailHalf ** 2),
    brightness: pixels.brightness,
    sizePx: Math.round(sizePx),
  };
  const p = partScores(parts);
  return { ...parts, overall: p.pose * p.sharpness * p.brightness * p.size };
}

/** A part scoring under this is called bad by name ("too blurred"); above, only the weakest. */
const BAD_PART = 0.5;

/**
 * What pulls the face's quality down most, for people: "turned away: yaw 52 degrees", or, when
 * no part is bad and only a high minimum refused the face, "weakest part: sharpness 0.93".
 */
export function weakestPart(q: Quality): string {
  const p = partScores(q);
  const worst = (Object.keys(p) as (keyof typeof p)[]).reduce((w, k) => (p[k] < p[w] ? k : w));
  const bad = p[worst] < BAD_PART;
  switch (worst) {
    case 'pose': {
      const yaw = (q.yaw / QUALITY_SCALE.yawLimit) ** 2 >= (q.pitch / QUALITY_SCALE.pitchLimit) ** 2;
      const angle = yaw ? `yaw ${Math.round(q.yaw)} degrees` : `pitch ${Math.round(q.pitch)} degrees`;
      return bad ? `${yaw ? 'turned away' : 'tilted'}: ${angle}` : `weakest part: ${angle}`;
    }
    case 'sharpness': return `${bad ? 'too blurred' : 'weakest part'}: sharpness ${q.sharpness.toFixed(2)}`;
    case 'brightness': {
      const what = q.brightness < 0.5 ? 'too dark' : 'too bright';
      return `${bad ? what : 'weakest part'}: brightness ${q.brightness.toFixed(2)}`;
    }
    case 'size': return bad ? `too small: ${Math.round(q.sizePx)} px` : `weakest part: size ${Math.round(q.sizePx)} px`;
  }
}
