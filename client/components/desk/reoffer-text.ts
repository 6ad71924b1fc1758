/**
 * What the desk says of a decline or an offer that ran out, in the toast and in the queue row's
 * tooltip alike: the live mark and the one a reload derives from the server read the same.
 */
import { useI18n } from 'vue-i18n';
import type { ReofferMark } from '@client/stores/tickets';

export function useReofferText(formatDistance: (m: number) => string) {
  const { t, d } = useI18n();

  /** Whom the system offered it to next, with the distance when known; or that a dispatcher must decide. */
  function next(m: ReofferMark): string {
    if (!m.to) return t('desk.reoffer.nobody');
    return m.to.distanceM === null ? t('desk.reoffer.next', { name: m.to.name }) : t('desk.reoffer.nextDistance', { name: m.to.name, d: formatDistance(m.to.distanceM) });
  }

  /** The row mark's tooltip: when (Asia/Shanghai) and who let it go, why, and whom it went to next. */
  function tooltip(m: ReofferMark): string {
    const lines = [`${d(m.at, 'hourMinute')} ${t(`desk.reoffer.title.${m.trigger}`, { name: m.from.name })}`];
    if (m.reason) lines.push(t('desk.reoffer.reason', { reason: m.reason }));
    lines.push(next(m));
    return lines.join('\n');
  }

  return { next, tooltip };
}
