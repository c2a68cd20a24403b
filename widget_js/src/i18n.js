// @ts-check
// Interface strings of the widget. Server text (the prompt, the label) is never translated here.

/**
 * Every interface string, keyed by purpose. `{n}`, `{total}` and `{code}` are placeholders.
 * @typedef {{
 *   checkbox: string,
 *   verified: string,
 *   loading: string,
 *   solving: string,
 *   verifying: string,
 *   verify: string,
 *   reload: string,
 *   tile: string,
 *   selected: string,
 *   wrong: string,
 *   expired: string,
 *   error: string,
 *   offline: string,
 *   retry: string,
 *   code: string,
 *   brand: string,
 *   alternative: string,
 *   alternativeHint: string,
 *   alternativeBusy: string,
 * }} Strings
 */

/** @typedef {"en" | "es" | "fr" | "de" | "zh"} Lang */

/** @type {readonly Lang[]} */
export const LANGS = ["en", "es", "fr", "de", "zh"];

/** @type {Strings} */
const EN = {
  checkbox: "I am human",
  verified: "Verified",
  loading: "Loading challenge…",
  solving: "Verifying…",
  verifying: "Checking…",
  verify: "Verify",
  reload: "New challenge",
  tile: "Image {n} of {total}",
  selected: "{n} selected",
  wrong: "Not quite. Please try this new one.",
  expired: "Verification expired. Check the box again.",
  error: "The challenge could not be loaded.",
  offline: "You appear to be offline.",
  retry: "Try again",
  code: "Error code: {code}",
  brand: "Protected by crowdgate",
  alternative: "Check without images",
  alternativeHint: "Can't see the images? Use Check without images, after Verify.",
  alternativeBusy: "Checking without images. This can take up to a minute…",
};

/**
 * Translations; a missing key falls back to English one string at a time.
 * @type {{ en: Strings } & Record<Exclude<Lang, "en">, Partial<Strings>>}
 */
export const MESSAGES = {
  en: EN,
  es: {
    checkbox: "Soy humano",
    verified: "Verificado",
    loading: "Cargando el desafío…",
    solving: "Verificando…",
    verifying: "Comprobando…",
    verify: "Verificar",
    reload: "Otro desafío",
    tile: "Imagen {n} de {total}",
    selected: "{n} seleccionadas",
    wrong: "No del todo. Prueba con este nuevo.",
    expired: "La verificación ha caducado. Marca la casilla de nuevo.",
    error: "No se pudo cargar el desafío.",
    offline: "Parece que no tienes conexión.",
    retry: "Reintentar",
    code: "Código de error: {code}",
    brand: "Protegido por crowdgate",
    alternative: "Verificar sin imágenes",
    alternativeHint: "¿No puede ver las imágenes? Use Verificar sin imágenes, después de Verificar.",
    alternativeBusy: "Verificando sin imágenes. Puede tardar hasta un minuto…",
  },
  fr: {
    checkbox: "Je suis humain",
    verified: "Vérifié",
    loading: "Chargement du défi…",
    solving: "Vérification de l’appareil…",
    verifying: "Vérification…",
    verify: "Valider",
    reload: "Autre défi",
    tile: "Image {n} sur {total}",
    selected: "{n} sélectionnée(s)",
    wrong: "Pas tout à fait. Essayez celui-ci.",
    expired: "La vérification a expiré. Cochez à nouveau la case.",
    error: "Le défi n’a pas pu être chargé.",
    offline: "Vous semblez être hors ligne.",
    retry: "Réessayer",
    code: "Code d’erreur : {code}",
    brand: "Protégé par crowdgate",
    alternative: "Vérifier sans images",
    alternativeHint: "Vous ne voyez pas les images ? Utilisez Vérifier sans images, après Valider.",
    alternativeBusy: "Vérification sans images. Cela peut prendre jusqu’à une minute…",
  },
  de: {
    checkbox: "Ich bin ein Mensch",
    verified: "Bestätigt",
    loading: "Aufgabe wird geladen…",
    solving: "Gerät wird überprüft…",
    verifying: "Wird geprüft…",
    verify: "Bestätigen",
    reload: "Neue Aufgabe",
    tile: "Bild {n} von {total}",
    selected: "{n} ausgewählt",
    wrong: "Nicht ganz. Bitte versuchen Sie diese neue Aufgabe.",
    expired: "Die Bestätigung ist abgelaufen. Bitte erneut ankreuzen.",
    error: "Die Aufgabe konnte nicht geladen werden.",
    offline: "Sie scheinen offline zu sein.",
    retry: "Erneut versuchen",
    code: "Fehlercode: {code}",
    brand: "Geschützt durch crowdgate",
    alternative: "Ohne Bilder prüfen",
    alternativeHint: "Sie sehen die Bilder nicht? Nutzen Sie „Ohne Bilder prüfen“ nach „Bestätigen“.",
    alternativeBusy: "Prüfung ohne Bilder. Das kann bis zu einer Minute dauern…",
  },
  zh: {
    checkbox: "我是人类",
    verified: "已验证",
    loading: "正在加载验证…",
    solving: "正在验证…",
    verifying: "正在检查…",
    verify: "验证",
    reload: "换一组",
    tile: "第 {n} 张图片，共 {total} 张",
    selected: "已选择 {n} 张",
    wrong: "不太对。请再试这一组。",
    expired: "验证已过期，请重新勾选。",
    error: "无法加载验证。",
    offline: "您似乎已离线。",
    retry: "重试",
    code: "错误代码：{code}",
    brand: "由 crowdgate 提供保护",
    alternative: "不看图片验证",
    alternativeHint: "看不到图片？请使用“验证”之后的“不看图片验证”。",
    alternativeBusy: "正在进行无图片验证，最多可能需要一分钟…",
  },
};

/**
 * Pick the interface language: the first candidate whose primary subtag is supported.
 * @param {ReadonlyArray<string | null | undefined>} candidates BCP 47 tags, most preferred first.
 * @returns {Lang} A supported language, "en" when none matches.
 */
export function pickLang(candidates) {
  for (const tag of candidates) {
    if (!tag) continue;
    const primary = String(tag).trim().toLowerCase().split(/[-_]/)[0];
    const found = LANGS.find((lang) => lang === primary);
    if (found) return found;
  }
  return "en";
}

/**
 * Look up one string in `lang`, falling back to English, and fill its placeholders.
 * @param {Lang} lang
 * @param {keyof Strings} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function translate(lang, key, vars) {
  const table = /** @type {Partial<Strings>} */ (MESSAGES[lang] || EN);
  const text = table[key] || EN[key];
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole,
  );
}
