/**
 * The detector input's linear resize in C (native/resize/linear.c): the same bytes as ONNX
 * Runtime's Resize node (preprocess.ts's resizeNode without antialias) at about a third of its
 * CPU. Where the addon was not built, preprocess.ts keeps the Resize graph.
 */
import { addonStatus, loadAddon } from '../../native/addons.js';

export interface NativeResize {
  /**
   * The 8-bit RGB image (width x height) resized to contentW x contentH, placed at the top left of
   * outW x outH and padded with black.
   */
  resizeLinear(rgb: Uint8Array, width: number, height: number, contentW: number, contentH: number, outW: number, outH: number): Buffer;
}

/** The resizer this thread uses, or undefined: ONNX Runtime's Resize graph. */
export function nativeResize(): NativeResize | undefined {
  return loadAddon<NativeResize>('facerest_resize').addon;
}

/** Who resizes the detector input, and why not the C resizer when not (the startup log). */
export function detectorResizeStatus(): string {
  return addonStatus('facerest_resize', 'onnxruntime');
}
