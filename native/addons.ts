/**
 * Loads facerest's own C addons (native/binding.gyp, built by `npm run build:native`). Each is
 * optional: where it was not built (no compiler), the caller keeps its portable path and says
 * why in the startup log.
 */
import { createRequire } from 'node:module';

/** The addon's exports, or why there are none. */
export type Loaded<T> = { addon: T; reason?: undefined } | { addon?: undefined; reason: string };

export type AddonName = 'facerest_turbojpeg' | 'facerest_resize';

const require = createRequire(import.meta.url);
const cache = new Map<AddonName, Loaded<unknown>>();

/** Once per thread (each worker thread loads its own copy). */
export function loadAddon<T>(name: AddonName): Loaded<T> {
  let loaded = cache.get(name);
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
