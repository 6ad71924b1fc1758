/**
 * zh-CN first, English on a switch. Dates and times are always shown in Asia/Shanghai, whatever
 * the time zone of the PC driving the wall.
 */
import { createI18n } from 'vue-i18n';
import zhCN from './locales/zh-CN';
import en from './locales/en';

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

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  datetimeFormats: { 'zh-CN': datetimeFormats, en: datetimeFormats },
  numberFormats: { 'zh-CN': numberFormats, en: numberFormats },
});

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale;
  localStorage.setItem(STORAGE_KEY, locale);
  document.documentElement.lang = locale;
}

document.documentElement.lang = i18n.global.locale.value;
