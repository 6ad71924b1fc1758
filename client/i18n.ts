/**
 * zh-CN first, English on a switch. Dates and times are always shown in Asia/Shanghai, whatever
 * the time zone of the PC driving the wall.
 */
import { createI18n } from 'vue-i18n';
import zhCN from './locales/zh-CN';

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];
export const TIME_ZONE = 'Asia/Shanghai';

const STORAGE_KEY = 'gridline.locale';

function initialLocale(): Locale {
  const stored = localStorage.getItem(STORAGE_KEY);
  return (LOCALES as readonly string[]).includes(stored ?? '') ? (stored as Locale) : 'zh-CN';
}

const tz = { timeZone: TIME_ZONE } as const;
const datetimeFormats = {
  time: { ...tz, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
  date: { ...tz, year: 'numeric', month: '2-digit', day: '2-digit' },
  weekday: { ...tz, weekday: 'long' },
  dateTime: { ...tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
  hourMinute: { ...tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
  monthDayTime: { ...tz, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
} as const;
const numberFormats = {
  integer: { maximumFractionDigits: 0 },
  decimal1: { minimumFractionDigits: 1, maximumFractionDigits: 1 },
  percent: { style: 'percent', maximumFractionDigits: 0 },
  percent1: { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 },
} as const;

/**
 * zh-CN ships with the page; English is fetched when first chosen (a wall never downloads a language
 * it does not show: it counts against the wall's 1 MiB first load). Until it arrives, texts fall back
 * to Chinese.
 */
export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN } as Record<Locale, typeof zhCN>,
  datetimeFormats: { 'zh-CN': datetimeFormats, en: datetimeFormats },
  numberFormats: { 'zh-CN': numberFormats, en: numberFormats },
});

let english: Promise<void> | undefined;

/** Loads a locale's messages once (only English is not bundled). */
export function loadLocale(locale: Locale): Promise<void> {
  if (locale !== 'en') return Promise.resolve();
  english ??= import('./locales/en').then((m) => i18n.global.setLocaleMessage('en', m.default as unknown as typeof zhCN));
  return english;
}

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem(STORAGE_KEY, locale);
  document.documentElement.lang = locale;
  void loadLocale(locale);
}

document.documentElement.lang = i18n.global.locale.value;
void loadLocale(i18n.global.locale.value);
