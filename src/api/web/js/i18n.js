// Japanese and English texts. The language is the one chosen in the header, else the browser's.
import en from '../i18n/en.js';
import ja from '../i18n/ja.js';

const dictionaries = { en, ja };
const langKey = 'hibiki.lang';
let lang = pickLanguage();

function pickLanguage() {
  const stored = localStorage.getItem(langKey);
  if (stored && dictionaries[stored]) return stored;
  const browser = (navigator.languages?.[0] ?? navigator.language ?? 'en').toLowerCase();
  return browser.startsWith('ja') ? 'ja' : 'en';
}

export function language() {
  return lang;
}

export function setLanguage(next) {
  if (!dictionaries[next]) return;
  lang = next;
  localStorage.setItem(langKey, next);
  document.documentElement.lang = next;
}

/** The text for `key` with {name} placeholders filled; English when Japanese lacks it, the key when both do. */
export function t(key, vars = {}) {
  const text = dictionaries[lang][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (vars[name] === undefined ? m : String(vars[name])));
}
