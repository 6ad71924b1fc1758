import { acceptHMRUpdate, defineStore } from 'pinia';
import { shallowRef } from 'vue';
import type { RegionFeatureCollection, RegionProperties } from '@shared/api';
import type { RegionLevel } from '@shared/domain';
import { api } from '@client/api';
import { featureBounds, type Bounds } from '@client/map/bounds';

/**
 * Territory in the user's jurisdiction. Boundaries change a few times a year, so each level is
 * fetched once per session and kept; the map draws them from vector tiles, this store serves
 * names, counts and bounds.
 */
export const useRegionsStore = defineStore('regions', () => {
  const collections = shallowRef<ReadonlyMap<string, RegionFeatureCollection>>(new Map());
  const pending = new Map<string, Promise<RegionFeatureCollection>>();

  function key(level: RegionLevel, parent?: string): string {
    return parent ? `${level}:${parent}` : level;
  }

  function load(level: RegionLevel, parent?: string): Promise<RegionFeatureCollection> {
    const k = key(level, parent);
    const cached = collections.value.get(k);
    if (cached) return Promise.resolve(cached);
    let request = pending.get(k);
    if (!request) {
      request = api.regions(level, parent).then(
        (fc) => {
          const next = new Map(collections.value);
          next.set(k, fc);
          collections.value = next;
          pending.delete(k);
          return fc;
        },
        (error: unknown) => {
          pending.delete(k);
          throw error;
        },
      );
      pending.set(k, request);
    }
    return request;
  }

  /** Region properties at a level (loaded), sorted by code; empty until load() resolved. */
  function list(level: RegionLevel, parent?: string): RegionProperties[] {
    const fc = collections.value.get(key(level, parent));
    return fc ? fc.features.map((f) => f.properties) : [];
  }

  /** The box around the regions at `level` in the jurisdiction. */
  async function boundsOf(level: RegionLevel): Promise<Bounds | null> {
    return featureBounds(await load(level));
  }

  function reset(): void {
    collections.value = new Map();
    pending.clear();
  }

  return { collections, load, list, boundsOf, reset };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useRegionsStore, import.meta.hot));
