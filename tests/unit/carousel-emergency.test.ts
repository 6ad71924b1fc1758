/**
 * The wall's rotation (轮播) and an emergency (应急): a rotating wall stops on the emergency while it
 * is active (the map holds its area) and goes on when it is closed; a waiting alarm still comes
 * first. The stores are the real ones; the two detail requests the emergency store makes are held.
 */
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { EmergencySummary } from '../../shared/emergencies-api';
import { useCarouselStore } from '../../client/stores/carousel';
import { emergenciesApi, useEmergenciesStore } from '../../client/stores/emergencies';

const summary = (id: number): EmergencySummary => ({
  id,
  type: 'flood',
  level: 2,
  note: '汾河水位上涨',
  status: 'active',
  declaredAt: '2026-12-06T02:00:00.000Z',
  closedAt: null,
  declaredBy: { userId: 1, name: '区领导' },
  region: { code: '140105', name: '迎泽区' },
  areaRegions: [],
  drawn: true,
  area: { type: 'MultiPolygon', coordinates: [[[[112.55, 37.85], [112.57, 37.85], [112.57, 37.87], [112.55, 37.85]]]] },
  noticeId: null,
});

beforeEach(() => {
  setActivePinia(createPinia());
  vi.spyOn(emergenciesApi, 'detail').mockImplementation(() => new Promise(() => {}));
  vi.spyOn(emergenciesApi, 'report').mockImplementation(() => new Promise(() => {}));
});
afterEach(() => vi.restoreAllMocks());

describe('the rotation during an emergency', () => {
  test('pauses while an emergency is active and goes on when it is closed', () => {
    const carousel = useCarouselStore();
    const emergencies = useEmergenciesStore();
    carousel.config = { enabled: true, views: [{ kind: 'district' }, { kind: 'kpi' }], seconds: 10, idleSeconds: 30 };
    expect(carousel.state).toBe('running');

    emergencies.onDeclared(summary(7));
    expect(emergencies.current?.summary.id).toBe(7);
    expect(carousel.state).toBe('emergency');

    emergencies.onClosed({ id: 7 } as Parameters<typeof emergencies.onClosed>[0]);
    expect(emergencies.current).toBeNull();
    expect(carousel.state).toBe('running');
  });

  test('a rotation that is off stays off; the settings dialog still wins', () => {
    const carousel = useCarouselStore();
    const emergencies = useEmergenciesStore();
    emergencies.onDeclared(summary(8));
    expect(carousel.state).toBe('off');
    carousel.config = { enabled: true, views: [{ kind: 'district' }], seconds: 10, idleSeconds: 30 };
    expect(carousel.state).toBe('emergency');
    carousel.settingsOpen = true;
    expect(carousel.state).toBe('settings');
  });
});
