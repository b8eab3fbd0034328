/**
 * Loads facerest's own C addons (native/binding.gyp, built by `npm run build:native`). Each is
 * optional: where it was not built (no compiler), or is turned off, the caller keeps its
 * portable path and says why in the startup log.
 */
import { createRequire } from 'node:module';

/** The addon's exports, or why there are none. */
export type Loaded<T> = { addon: T; reason?: undefined } | { addon?: undefined; reason: string };

export type AddonName = 'facerest_turbojpeg' | 'facerest_resize' | 'facerest_colour' | 'facerest_sampling' | 'facerest_clock';

/**
 * FACEREST_NATIVE=off runs without the addons, as where they were not built: a way out should
 * one misbehave on some machine. Read here because every thread loads its own addons (a worker
 * has the process's environment); config.ts checks the value at startup.
 */
export const NATIVE_SWITCH = 'FACEREST_NATIVE';

const require = createRequire(import.meta.url);
const cache = new Map<AddonName, Loaded<unknown>>();

/** Once per thread (each worker thread loads its own copy). */
export function loadAddon<T>(name: AddonName): Loaded<T> {
  let loaded = cache.get(name);
  if (!loaded && process.env[NATIVE_SWITCH] === 'off') loaded = { reason: `turned off (${NATIVE_SWITCH}=off)` };
  if (!loaded) {
    try {
      // From dist/native/ to native/build/.
      loaded = { addon: require(`../../native/build/Release/${name}.node`) };
    } catch (err) {
      loaded = { reason: `native/${name}.node is not built (${(err as Error).message.split('\n')[0]})` };
    }
    cache.set(name, loaded);
  }
  return loaded as Loaded<T>;
}

/** 'native' where the addon loads, else the portable path that runs instead and why (the startup log). */
export function addonStatus(name: AddonName, portable: string): string {
  const { addon, reason } = loadAddon<unknown>(name);
  return addon ? 'native' : `${portable}: ${reason}`;
}
