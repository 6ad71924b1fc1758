/**
 * Cameras (视频监控) as this screen knows them: the cameras of the user's jurisdiction (GeoJSON,
 * re-read every minute for their status), the nearest cameras to a point, play grants, and the
 * video wall's choice (layout 1/4/9/16 and which cameras) with the "open the four nearest on an
 * SOS" setting, kept in this browser.
 */
import { acceptHMRUpdate, defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { CameraBody, CameraCollection, CameraDetail, CameraFeature, CameraImportResult, CameraPatch, NearestCameras, PlayGrant } from '@shared/cameras-api';
import { request } from '@client/api';

export const camerasApi = {
  list: () => request<CameraCollection>('/api/cameras'),
  nearest: (lon: number, lat: number, limit = 4) => request<NearestCameras>('/api/cameras/nearest', { query: { lon, lat, limit } }),
  play: (id: number) => request<PlayGrant>(`/api/cameras/${id}/play`),
  // Admins (the camera editor):
  detail: (id: number) => request<CameraDetail>(`/api/cameras/${id}`),
  create: (body: CameraBody) => request<CameraDetail>('/api/cameras', { method: 'POST', body }),
  update: (id: number, body: CameraPatch) => request<CameraDetail>(`/api/cameras/${id}`, { method: 'PATCH', body }),
  remove: (id: number) => request<null>(`/api/cameras/${id}`, { method: 'DELETE' }),
  importCsv: (file: Blob) => request<CameraImportResult>('/api/cameras/import', { method: 'POST', raw: new Blob([file], { type: 'text/csv' }) }),
};

export const WALL_LAYOUTS = [1, 4, 9, 16] as const;
export type WallLayout = (typeof WALL_LAYOUTS)[number];
const SOS_KEY = 'gridline.cameras.openOnSos';

export const useCamerasStore = defineStore('cameras', () => {
  const collection = shallowRef<CameraCollection | null>(null);
  const error = ref<string | null>(null);
  const loadedAt = ref(0);
  /** Open the four nearest cameras on the video wall when an SOS comes in. */
  const openOnSos = ref(typeof localStorage !== 'undefined' && localStorage.getItem(SOS_KEY) === '1');
  let timer: ReturnType<typeof setInterval> | undefined;

  const features = computed<CameraFeature[]>(() => collection.value?.features ?? []);
  const byId = computed(() => new Map(features.value.map((f) => [f.id, f])));

  async function load(): Promise<void> {
    try {
      collection.value = await camerasApi.list();
      loadedAt.value = Date.now();
      error.value = null;
    } catch (e) {
      error.value = (e as Error).message;
    }
  }

  /** Loads now (unless fresh) and keeps the statuses current while the screen is open. */
  async function ensure(): Promise<void> {
    if (!collection.value || Date.now() - loadedAt.value > 30_000) await load();
    timer ??= setInterval(() => void load(), 60_000);
  }

  function stop(): void {
    clearInterval(timer);
    timer = undefined;
  }

  function setOpenOnSos(on: boolean): void {
    openOnSos.value = on;
    localStorage.setItem(SOS_KEY, on ? '1' : '0');
  }

  return { collection, features, byId, error, openOnSos, load, ensure, stop, setOpenOnSos };
});

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useCamerasStore, import.meta.hot));
