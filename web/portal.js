// portal.js - the cardholder portal, /portal.html: log in with the card's phone number and a
// code sent by SMS, then see the card (balance, status, plan, billing date), its history, turn
// auto-renewal on or off, pick the language of the page and of the card's SMS, and log out.
//
// Rules this page keeps:
// - The session token lives in sessionStorage only (never localStorage, never the URL), and is
//   dropped on logout and on any 401/403: the person is sent back to the log-in form.
// - Money is integer fen throughout: "12.3" yuan is parsed as the string it is into 1230, never
//   through a floating-point multiplication.
// - Every button that sends a request is disabled, synchronously, until the answer is in: a
//   double tap sends one request.
// - Asking a code reads the same whether or not the number holds a card (the server answers
//   the same; the page adds nothing that could tell them apart).
// - One language at a time, Chinese by default; once logged in, the card's own language.

import { ORDER_STATUS, apiCall, errorText, formatMoney, normalizeNumber } from './common.js';

const SESSION_KEY = 'leb.portal.session';
const LANG_KEY = 'leb.portal.lang';
const HISTORY_LIMIT = 20;
const RESEND_DEFAULT_S = 60;
const REFRESH_AFTER_HIDDEN_MS = 30 * 1000;
const TIME_ZONE = 'Asia/Shanghai'; // the carriers' billing day is a day in China

// ---- words -----------------------------------------------------------------------------------

const yuanShort = (minor, currency) => formatMoney(minor, currency);

const T = {
  'zh-CN': {
    docTitle: '保号卡自助服务 · LEB',
    skip: '跳到主要内容',
    title: '保号卡自助服务',
    loginTitle: '用手机号登录',
    loginHint: '输入保号卡的手机号，我们会把验证码发到这个号码。',
    phoneLabel: '手机号',
    sendCode: '获取验证码',
    resend: '重新获取验证码',
    resendIn: (s) => `重新获取（${s} 秒）`,
    sending: '正在发送…',
    codeLabel: '验证码',
    codeHint: '短信里的 6 位数字，5 分钟内有效。没收到？请核对手机号，1 分钟后可以重新获取。',
    login: '登录',
    loggingIn: '正在登录…',
    accountTitle: '我的保号卡',
    loading: '正在加载…',
    cardTitle: '我的卡',
    refresh: '刷新',
    refreshing: '刷新中…',
    balance: '余额',
    cardNo: '卡号',
    phone: '手机号',
    status: '状态',
    arrears: '欠费',
    nextBilling: '下次扣月租',
    validUntil: '有效期至',
    plan: '套餐',
    monthlyFee: '月租',
    perMonth: (fee) => `${fee} / 月`,
    topUp: '充值',
    statusActive: '正常使用',
    statusSuspended: '已停机',
    statusRecycled: '号码已回收',
    suspendedNotice: '这张卡已停机。充值后立即恢复使用。',
    recycledNotice: '这张卡的号码已被回收，不能再充值。',
    notRechargeable: '这张卡目前不能充值。',
    arTitle: '自动续费',
    arRule: '续费方式',
    arKeepFee: '每月扣费前自动补足月租',
    arKeepFeeNote: '只充够月租所需的最低金额',
    arThreshold: '余额低于设定值时自动充值',
    arThresholdNote: '两个金额都由您设定',
    arThresholdLabel: '余额低于（元）',
    arAmountLabel: '每次充值（元）',
    arAmountHint: (min, max) => `每次充值金额可在 ${min} 至 ${max} 之间`,
    arTurnOn: '开启自动续费',
    arSave: '保存设置',
    arTurnOff: '关闭自动续费',
    saving: '正在保存…',
    arOff: '未开启',
    arOnKeepFee: '已开启：每月扣费前自动补足月租',
    arOnThreshold: (threshold, amount) => `已开启：余额低于 ${threshold} 时自动充值 ${amount}`,
    arRecycled: '号码已回收，不能开启自动续费',
    arSavedOn: '已保存，自动续费已开启',
    arSavedOff: '自动续费已关闭',
    arAmountBad: '请输入金额，例如 50 或 12.30（最多两位小数）',
    arInvalid: '设置没有保存：每次充值需是套餐可充的金额，余额下限不能小于 0',
    langTitle: '语言',
    langTitleOther: ' · Language', // for someone who reads no Chinese, whatever the page shows
    langHint: '本页和这张卡的短信使用的语言',
    langSaved: '已保存：短信也将使用中文',
    historyTitle: '记录',
    ordersTitle: '充值订单',
    movesTitle: '余额变动',
    noRecords: '暂无记录',
    orderLine: (amount) => `充值 ${amount}`,
    bonus: (amount) => `赠送 ${amount}`,
    orderNo: (no) => `订单号 ${no}`,
    mv_recharge: '充值',
    mv_monthly_fee: '月租',
    mv_forfeit: '回收清零',
    mv_refund: '退款',
    mv_other: '其他变动',
    logout: '退出登录',
    loggingOut: '正在退出…',
    footer: '验证码只用来登录本页。任何人向您索要验证码都不要给。',
    phoneEmpty: '请输入手机号',
    phoneBad: '手机号不正确，请核对后重新输入',
    codeSent: '验证码已发送，请查看短信',
    retryIn: (s) => (s > 120 ? `请 ${Math.ceil(s / 60)} 分钟后再试` : `请 ${s} 秒后再试`),
    codeFormat: '请输入短信里的 6 位数字验证码',
    invalidCode: '验证码错误或已过期',
    tooMany: '错误次数过多，请重新获取验证码',
    expired: '登录已过期，请重新登录',
    loggedOut: '已退出登录',
    loadFailed: '部分信息没有加载出来，请点“刷新”重试',
  },
  en: {
    docTitle: 'Keep-number SIM self-service · LEB',
    skip: 'Skip to the main content',
    title: 'SIM self-service',
    loginTitle: 'Log in with your phone number',
    loginHint: 'Enter the phone number of your keep-number card; we send a code to it.',
    phoneLabel: 'Phone number',
    sendCode: 'Send code',
    resend: 'Send a new code',
    resendIn: (s) => `Resend in ${s} s`,
    sending: 'Sending…',
    codeLabel: 'Code',
    codeHint: 'The 6 digits in the SMS, valid for 5 minutes. No SMS? Check the number; you can ask again after a minute.',
    login: 'Log in',
    loggingIn: 'Logging in…',
    accountTitle: 'My keep-number card',
    loading: 'Loading…',
    cardTitle: 'My card',
    refresh: 'Refresh',
    refreshing: 'Refreshing…',
    balance: 'Balance',
    cardNo: 'Card',
    phone: 'Phone',
    status: 'Status',
    arrears: 'Arrears',
    nextBilling: 'Next monthly fee',
    validUntil: 'Valid until',
    plan: 'Plan',
    monthlyFee: 'Monthly fee',
    perMonth: (fee) => `${fee} / month`,
    topUp: 'Top up',
    statusActive: 'Active',
    statusSuspended: 'Suspended',
    statusRecycled: 'Number recycled',
    suspendedNotice: 'This card is suspended. It works again as soon as you top up.',
    recycledNotice: 'The number of this card has been recycled; it can no longer be topped up.',
    notRechargeable: 'This card cannot be topped up at the moment.',
    arTitle: 'Auto-renewal',
    arRule: 'How',
    arKeepFee: 'Top up the monthly fee before it is due',
    arKeepFeeNote: 'Only the smallest amount that covers the fee',
    arThreshold: 'Top up when the balance runs low',
    arThresholdNote: 'You set both amounts',
    arThresholdLabel: 'When the balance is below (yuan)',
    arAmountLabel: 'Top up by (yuan)',
    arAmountHint: (min, max) => `A top-up can be from ${min} to ${max}`,
    arTurnOn: 'Turn on auto-renewal',
    arSave: 'Save',
    arTurnOff: 'Turn off auto-renewal',
    saving: 'Saving…',
    arOff: 'Off',
    arOnKeepFee: 'On: the monthly fee is topped up before it is due',
    arOnThreshold: (threshold, amount) => `On: tops up ${amount} when the balance is below ${threshold}`,
    arRecycled: 'The number is recycled: auto-renewal cannot be turned on',
    arSavedOn: 'Saved: auto-renewal is on',
    arSavedOff: 'Auto-renewal is off',
    arAmountBad: 'Enter an amount, e.g. 50 or 12.30 (at most two decimals)',
    arInvalid: 'Not saved: the top-up must be an amount the plan sells, and the balance limit 0 or more',
    langTitle: 'Language',
    langTitleOther: '',
    langHint: 'The language of this page and of the card’s SMS',
    langSaved: 'Saved: SMS will be in English too',
    historyTitle: 'History',
    ordersTitle: 'Top-up orders',
    movesTitle: 'Balance changes',
    noRecords: 'Nothing yet',
    orderLine: (amount) => `Top-up ${amount}`,
    bonus: (amount) => `bonus ${amount}`,
    orderNo: (no) => `Order ${no}`,
    mv_recharge: 'Top-up',
    mv_monthly_fee: 'Monthly fee',
    mv_forfeit: 'Cleared at recycling',
    mv_refund: 'Refund',
    mv_other: 'Other change',
    logout: 'Log out',
    loggingOut: 'Logging out…',
    footer: 'The code is only for logging in here. Never give it to anyone who asks for it.',
    phoneEmpty: 'Enter your phone number',
    phoneBad: 'This phone number is not valid: please check it',
    codeSent: 'Code sent: check your SMS',
    retryIn: (s) => (s > 120 ? `Please try again in ${Math.ceil(s / 60)} minutes` : `Please try again in ${s} s`),
    codeFormat: 'Enter the 6-digit code from the SMS',
    invalidCode: 'Wrong or expired code',
    tooMany: 'Too many wrong tries: please ask for a new code',
    expired: 'Your session has expired: please log in again',
    loggedOut: 'You have logged out',
    loadFailed: 'Some of it did not load: press “Refresh” to try again',
  },
};

const LANGS = ['zh-CN', 'en'];

const state = {
  lang: 'zh-CN',
  session: null, // {token, expires_at}
  card: null, // GET /api/v1/portal/card
  history: null, // GET /api/v1/portal/history
  autoRenew: null, // GET /api/v1/portal/auto-renew
  limits: null, // the plan's amounts (the card view's plan), for the auto-renewal hint
  arFormFilled: false,
  cooldowns: new Map(), // normalised phone -> Date.now() until which a new code is refused
  countdownTimer: 0,
  busy: { send: false, login: false, refresh: false, ar: null, lang: false, logout: false },
  loadSeq: 0,
  loadedAt: 0,
};

function t(key, ...args) {
  const value = T[state.lang][key] ?? T['zh-CN'][key];
  return typeof value === 'function' ? value(...args) : value ?? key;
}

// ---- elements --------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const el = {
  langToggle: $('lang-toggle'),
  pageMsg: $('page-msg'),
  otpForm: $('otp-form'),
  phone: $('phone'),
  sendButton: $('send-button'),
  phoneMsg: $('phone-msg'),
  codeForm: $('code-form'),
  code: $('code'),
  codeMsg: $('code-msg'),
  loginButton: $('login-button'),
  accountTitle: $('account-title'),
  accountLoading: $('account-loading'),
  accountError: $('account-error'),
  accountBody: $('account-body'),
  refreshButton: $('refresh-button'),
  balance: $('c-balance'),
  cardNo: $('c-card'),
  msisdn: $('c-msisdn'),
  status: $('c-status'),
  arrearsRow: $('c-arrears-row'),
  arrears: $('c-arrears'),
  dateRow: $('c-date-row'),
  dateLabel: $('c-date-label'),
  date: $('c-date'),
  plan: $('c-plan'),
  feeRow: $('c-fee-row'),
  fee: $('c-fee'),
  notice: $('c-notice'),
  topUp: $('topup-link'),
  arState: $('ar-state'),
  arForm: $('ar-form'),
  arKeepFeeChoice: $('ar-keep-fee-choice'),
  arFields: $('ar-threshold-fields'),
  arThreshold: $('ar-threshold'),
  arAmount: $('ar-amount'),
  arAmountHint: $('ar-amount-hint'),
  arMsg: $('ar-msg'),
  arSave: $('ar-save'),
  arOff: $('ar-off'),
  langButtons: [...document.querySelectorAll('.seg-btn[data-lang]')],
  langMsg: $('lang-msg'),
  orders: $('h-orders'),
  moves: $('h-moves'),
  logout: $('logout-button'),
};

// ---- messages --------------------------------------------------------------------------------

// A message is kept as a function of the language, so that switching the language redraws it.
// "text" returns a string, or [main, detail] (detail: the server's own words, in small type).
const messages = new Set();

function say(target, kind, text) {
  target._say = text ? { kind, text } : null;
  messages.add(target);
  paint(target);
}

function paint(target) {
  const m = target._say;
  if (target === el.pageMsg) {
    target.hidden = !m;
    target.classList.toggle('notice-bad', Boolean(m) && m.kind === 'error');
    target.setAttribute('role', m && m.kind === 'error' ? 'alert' : 'status');
  } else {
    target.classList.toggle('msg-error', Boolean(m) && m.kind === 'error');
    target.classList.toggle('msg-ok', Boolean(m) && m.kind === 'ok');
  }
  target.replaceChildren();
  if (!m) return;
  const text = m.text();
  const [main, detail] = Array.isArray(text) ? text : [text, ''];
  target.append(main);
  if (detail) {
    const small = document.createElement('span');
    small.className = 'msg-detail';
    small.lang = 'en';
    small.textContent = detail;
    target.append(document.createElement('br'), small);
  }
}

// The words for an error the routes share: [code -> key], else common.js's words.
function errorWords(err, keys = {}) {
  if (err && keys[err.code]) return () => t(keys[err.code]);
  return () => {
    const [zh, en] = errorText(err);
    return state.lang === 'en' ? en : zh;
  };
}

// ---- numbers and money -----------------------------------------------------------------------

const CURRENCY_SIGNS = { CNY: '¥', HKD: 'HK$', USD: 'US$', EUR: '€' };

// An integer of minor units as yuan with two decimals: 1230 -> "¥12.30", -800 -> "−¥8.00".
function yuan(minor, currency = 'CNY', { signed = false } = {}) {
  if (!Number.isSafeInteger(minor)) return '—';
  const abs = Math.abs(minor);
  const text = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  const symbol = CURRENCY_SIGNS[currency] ?? `${currency} `;
  const sign = minor < 0 ? '−' : signed && minor > 0 ? '+' : '';
  return `${sign}${symbol}${text}`;
}

// What a person typed as yuan -> integer fen, or null. Digits and the decimal point are read as
// text ("12.3" -> 12 * 100 + 30), never as a float. Full-width digits, "。" and "．" for the point,
// spaces, a leading "¥" and a trailing "元" are accepted.
export function parseYuan(raw) {
  let text = '';
  for (const ch of String(raw)) {
    const code = ch.codePointAt(0);
    if (code >= 0xff10 && code <= 0xff19) text += String.fromCharCode(code - 0xff10 + 48);
    else if (ch === '．' || ch === '。') text += '.';
    else if (/\s/u.test(ch)) continue;
    else text += ch;
  }
  text = text.replace(/^[¥￥]/, '').replace(/元$/, '');
  const match = /^([0-9]{0,7})(?:\.([0-9]{0,2}))?$/.exec(text);
  if (!match || (match[1] === '' && !match[2])) return null;
  const whole = match[1] === '' ? 0 : Number(match[1]);
  const cents = Number((match[2] || '').padEnd(2, '0'));
  return whole * 100 + cents;
}

// Fen -> what goes back into an input: 1230 -> "12.30", 5000 -> "50".
function yuanInput(minor) {
  if (!Number.isSafeInteger(minor) || minor < 0) return '';
  const cents = minor % 100;
  return cents === 0 ? String(minor / 100) : `${Math.floor(minor / 100)}.${String(cents).padStart(2, '0')}`;
}

// The number as the server will get it, if it looks like a phone number; else null. The
// server normalises (and decides); this only catches what cannot be one.
function phoneOf(raw) {
  const normalized = normalizeNumber(raw);
  if (!/^\+?[0-9]+$/.test(normalized)) return null;
  const digits = normalized.replace(/^\+/, '').replace(/^00/, '');
  return digits.length >= 8 && digits.length <= 15 ? normalized : null;
}

// RFC 3339 -> "2027-02-01 08:00" (or the date alone) in China's time.
function when(text, withTime = true) {
  if (!text) return '—';
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return String(text);
  const options = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-GB', { ...options, timeZone: TIME_ZONE }).formatToParts(date);
  } catch {
    parts = new Intl.DateTimeFormat('en-GB', options).formatToParts(date);
  }
  const part = (type) => (parts.find((p) => p.type === type) || {}).value || '';
  const day = `${part('year')}-${part('month')}-${part('day')}`;
  return withTime ? `${day} ${part('hour')}:${part('minute')}` : day;
}

// ---- storage ---------------------------------------------------------------------------------

function storageGet(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function storageSet(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    /* storage disabled: the session lives as long as the page */
  }
}

function loadSession() {
  try {
    const session = JSON.parse(storageGet(SESSION_KEY));
    if (session && typeof session.token === 'string' && session.token) return session;
  } catch {
    /* a broken value: no session */
  }
  return null;
}

// ---- language --------------------------------------------------------------------------------

function applyLang(lang) {
  state.lang = LANGS.includes(lang) ? lang : 'zh-CN';
  storageSet(LANG_KEY, state.lang);
  document.documentElement.lang = state.lang;
  document.title = t('docTitle');
  for (const node of document.querySelectorAll('[data-t]')) node.textContent = t(node.dataset.t);
  const other = state.lang === 'en' ? 'zh-CN' : 'en';
  el.langToggle.textContent = other === 'en' ? 'English' : '中文';
  el.langToggle.lang = other;
  el.langToggle.dataset.lang = other;
  for (const button of el.langButtons) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === state.lang));
  }
  for (const target of messages) paint(target);
  renderSendButton();
  renderLoginButton();
  renderAccount();
}

async function pickLanguage(lang) {
  if (!state.session || !state.card) {
    applyLang(lang);
    return;
  }
  if (state.busy.lang) return;
  if (lang === state.card.language) {
    applyLang(lang);
    return;
  }
  state.busy.lang = true;
  renderLangButtons();
  say(el.langMsg, null, null);
  try {
    const data = await portal('PUT', '/api/v1/portal/language', { language: lang });
    state.card.language = data.language;
    applyLang(data.language);
    say(el.langMsg, 'ok', () => t('langSaved'));
  } catch (err) {
    if (!err.expired) say(el.langMsg, 'error', errorWords(err));
  } finally {
    state.busy.lang = false;
    renderLangButtons();
  }
}

function renderLangButtons() {
  el.langToggle.disabled = state.busy.lang;
  for (const button of el.langButtons) button.disabled = state.busy.lang;
}

// ---- the API with the session ----------------------------------------------------------------

// Calls a portal route with the session's token. A 401 or 403 means the session is gone
// (expired, logged out elsewhere): back to the log-in form; the error is marked "expired" so
// that callers show nothing more.
async function portal(method, path, body) {
  const token = state.session && state.session.token;
  if (!token) {
    const err = new Error('no session');
    err.expired = true;
    throw err;
  }
  try {
    const { data } = await apiCall(method, path, { body, headers: { Authorization: `Bearer ${token}` } });
    return data;
  } catch (err) {
    if (err && (err.status === 401 || err.status === 403)) {
      if (state.session && state.session.token === token) endSession('expired');
      err.expired = true;
    }
    throw err;
  }
}

// ---- log-in ----------------------------------------------------------------------------------

function cooldownLeft(phone) {
  const until = phone ? state.cooldowns.get(phone) || 0 : 0;
  return Math.max(0, Math.ceil((until - Date.now()) / 1000));
}

function renderSendButton() {
  clearTimeout(state.countdownTimer);
  const phone = phoneOf(el.phone.value);
  const left = cooldownLeft(phone);
  if (state.busy.send) {
    el.sendButton.disabled = true;
    el.sendButton.textContent = t('sending');
  } else if (left > 0) {
    el.sendButton.disabled = true;
    el.sendButton.textContent = t('resendIn', left);
    state.countdownTimer = setTimeout(renderSendButton, 500);
  } else {
    el.sendButton.disabled = false;
    el.sendButton.textContent = state.cooldowns.has(phone) ? t('resend') : t('sendCode');
  }
}

function renderLoginButton() {
  el.loginButton.disabled = state.busy.login;
  el.loginButton.textContent = state.busy.login ? t('loggingIn') : t('login');
}

// The phone field, checked; null (with the message shown) when it cannot be a phone number.
function checkedPhone() {
  const raw = el.phone.value.trim();
  const phone = phoneOf(raw);
  if (phone) {
    el.phone.removeAttribute('aria-invalid');
    return phone;
  }
  el.phone.setAttribute('aria-invalid', 'true');
  say(el.phoneMsg, 'error', () => t(raw === '' ? 'phoneEmpty' : 'phoneBad'));
  el.phone.focus();
  return null;
}

async function onSendCode(event) {
  event.preventDefault();
  if (state.busy.send) return;
  const phone = checkedPhone();
  if (!phone) return;
  const left = cooldownLeft(phone);
  if (left > 0) {
    say(el.phoneMsg, 'error', () => t('retryIn', left));
    return;
  }
  state.busy.send = true;
  renderSendButton();
  try {
    const { data } = await apiCall('POST', '/api/v1/portal/otp', { body: { phone } });
    const resend_s = Number.isSafeInteger(data && data.resend_after_s) ? data.resend_after_s : RESEND_DEFAULT_S;
    state.cooldowns.set(phone, Date.now() + resend_s * 1000);
    say(el.phoneMsg, 'ok', () => t('codeSent'));
    el.code.focus();
  } catch (err) {
    if (err.code === 'rate_limited') {
      const seconds = Math.max(1, Number.parseInt(err.retryAfter, 10) || RESEND_DEFAULT_S);
      state.cooldowns.set(phone, Date.now() + seconds * 1000);
      say(el.phoneMsg, 'error', () => t('retryIn', seconds));
    } else if (err.code === 'invalid_phone_number') {
      el.phone.setAttribute('aria-invalid', 'true');
      say(el.phoneMsg, 'error', () => t('phoneBad'));
      el.phone.focus();
    } else {
      say(el.phoneMsg, 'error', errorWords(err));
    }
  } finally {
    state.busy.send = false;
    renderSendButton();
  }
}

async function onLogin(event) {
  event.preventDefault();
  if (state.busy.login) return;
  const phone = checkedPhone();
  if (!phone) return;
  const code = normalizeNumber(el.code.value);
  if (!/^[0-9]{6}$/.test(code)) {
    el.code.setAttribute('aria-invalid', 'true');
    say(el.codeMsg, 'error', () => t('codeFormat'));
    el.code.focus();
    return;
  }
  el.code.removeAttribute('aria-invalid');
  state.busy.login = true;
  renderLoginButton();
  say(el.codeMsg, null, null);
  try {
    const { data } = await apiCall('POST', '/api/v1/portal/session', { body: { phone, code } });
    startSession({ token: data.token, expires_at: data.expires_at });
  } catch (err) {
    if (err.code === 'invalid_code' || err.code === 'too_many_attempts' || err.code === 'invalid_request') {
      el.code.setAttribute('aria-invalid', 'true');
      if (err.code === 'too_many_attempts') el.code.value = '';
      say(el.codeMsg, 'error', errorWords(err, {
        invalid_code: 'invalidCode',
        too_many_attempts: 'tooMany',
        invalid_request: 'codeFormat',
      }));
      el.code.focus();
      el.code.select();
    } else if (err.code === 'invalid_phone_number') {
      el.phone.setAttribute('aria-invalid', 'true');
      say(el.phoneMsg, 'error', () => t('phoneBad'));
      el.phone.focus();
    } else {
      say(el.codeMsg, 'error', errorWords(err));
    }
  } finally {
    state.busy.login = false;
    renderLoginButton();
  }
}

// ---- the session -----------------------------------------------------------------------------

function startSession(session) {
  state.session = session;
  storageSet(SESSION_KEY, JSON.stringify(session));
  el.code.value = '';
  el.code.removeAttribute('aria-invalid');
  say(el.codeMsg, null, null);
  say(el.phoneMsg, null, null);
  say(el.pageMsg, null, null);
  resetAccount();
  document.documentElement.dataset.view = 'account';
  loadAccount({ focus: true });
}

// Forgets the session here ("expired": the server refused it; "loggedOut": the person asked)
// and shows the log-in form with a message.
function endSession(reason) {
  storageSet(SESSION_KEY, null);
  state.session = null;
  state.loadSeq++;
  resetAccount();
  document.documentElement.dataset.view = 'login';
  say(el.pageMsg, reason === 'expired' ? 'error' : 'ok', () => t(reason));
  renderSendButton();
  // The message first (a screen reader reads it; no keyboard pops up); the phone field is next.
  el.pageMsg.focus();
}

// Drops what was shown of the last card, so that the next log-in never shows it.
function resetAccount() {
  state.card = null;
  state.history = null;
  state.autoRenew = null;
  state.limits = null;
  state.arFormFilled = false;
  state.loadedAt = 0;
  el.accountBody.hidden = true;
  el.accountLoading.hidden = false;
  for (const target of [el.accountError, el.arMsg, el.langMsg]) say(target, null, null);
  el.orders.replaceChildren();
  el.moves.replaceChildren();
}

async function onLogout() {
  if (state.busy.logout || !state.session) return;
  state.busy.logout = true;
  el.logout.disabled = true;
  el.logout.textContent = t('loggingOut');
  const token = state.session.token;
  try {
    await apiCall('DELETE', '/api/v1/portal/session', { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    /* gone already, or the network: it is forgotten here either way */
  } finally {
    state.busy.logout = false;
    el.logout.disabled = false;
    el.logout.textContent = t('logout');
    if (state.session && state.session.token === token) endSession('loggedOut');
  }
}

// ---- the account -----------------------------------------------------------------------------

// Loads the card, its history and its auto-renewal together and draws them at once, so that the
// page does not jump as each arrives.
async function loadAccount({ focus = false } = {}) {
  if (!state.session) return;
  const seq = ++state.loadSeq;
  state.busy.refresh = true;
  renderRefreshButton();
  const [card, history, autoRenew] = await Promise.allSettled([
    portal('GET', '/api/v1/portal/card'),
    portal('GET', `/api/v1/portal/history?limit=${HISTORY_LIMIT}`),
    portal('GET', '/api/v1/portal/auto-renew'),
  ]);
  if (seq !== state.loadSeq) return; // logged out, or a newer load, meanwhile
  state.busy.refresh = false;
  const results = [card, history, autoRenew];
  if (results.some((r) => r.status === 'rejected' && r.reason && r.reason.expired)) return;
  if (card.status === 'fulfilled') state.card = card.value;
  if (history.status === 'fulfilled') state.history = history.value;
  state.limits = state.card ? state.card.plan : null;
  if (autoRenew.status === 'fulfilled') state.autoRenew = autoRenew.value;
  const failed = results.find((r) => r.status === 'rejected');
  say(el.accountError, 'error', failed ? () => t('loadFailed') : null);
  if (!failed) state.loadedAt = Date.now();
  el.accountLoading.hidden = true;
  el.accountBody.hidden = false;
  // The card's own language, once known.
  if (state.card && state.card.language && state.card.language !== state.lang) applyLang(state.card.language);
  else renderAccount();
  if (focus) el.accountTitle.focus();
}

function renderRefreshButton() {
  el.refreshButton.disabled = state.busy.refresh;
  el.refreshButton.textContent = state.busy.refresh ? t('refreshing') : t('refresh');
}

function renderAccount() {
  renderRefreshButton();
  renderLangButtons();
  el.logout.textContent = state.busy.logout ? t('loggingOut') : t('logout');
  renderCard();
  renderAutoRenew();
  renderHistory();
}

const CARD_STATUS_WORDS = {
  active: ['statusActive', 'ok'],
  suspended: ['statusSuspended', 'warn'],
  recycled: ['statusRecycled', 'bad'],
};

function renderCard() {
  const card = state.card;
  if (!card) return;
  const currency = card.currency || (card.plan && card.plan.currency) || 'CNY';
  const plan = card.plan || {};
  el.balance.textContent = yuan(card.balance, currency);
  el.cardNo.textContent = card.card_no_masked || '—';
  el.msisdn.textContent = card.msisdn_masked || '—';
  const [statusKey, tone] = CARD_STATUS_WORDS[card.status] || [null, 'warn'];
  el.status.textContent = statusKey ? t(statusKey) : card.status || '—';
  el.status.className = `badge badge-${tone}`;

  const arrears = Number.isSafeInteger(card.arrears) && card.arrears > 0;
  el.arrearsRow.hidden = !arrears;
  el.arrears.textContent = arrears ? yuan(card.arrears, currency) : '';

  const validity = plan.model === 'validity';
  el.dateLabel.textContent = t(validity ? 'validUntil' : 'nextBilling');
  el.date.textContent = when(validity ? card.valid_until : card.next_billing_at, false);
  el.plan.textContent = plan.name || plan.code || '—';
  el.feeRow.hidden = validity;
  el.fee.textContent = t('perMonth', yuan(plan.monthly_fee, plan.currency || currency));

  const rechargeable = card.rechargeable === true && card.status !== 'recycled';
  let notice = null;
  if (card.status === 'recycled') notice = ['recycledNotice', 'notice-bad'];
  else if (!rechargeable) notice = ['notRechargeable', 'notice-bad'];
  else if (card.status === 'suspended') notice = ['suspendedNotice', 'notice-warn'];
  el.notice.hidden = !notice;
  el.notice.className = `notice ${notice ? notice[1] : ''}`;
  el.notice.textContent = notice ? t(notice[0]) : '';

  // The recharge page reads ?number= and looks the card up itself. The phone number, not the
  // card number: a link kept in the browser's history should not spread the card number
  // (the CZ SMS link does the same).
  el.topUp.href = `/?number=${encodeURIComponent(String(card.msisdn || '').replace(/^\+/, ''))}`;
  el.topUp.hidden = !rechargeable;
}

function checkedRule() {
  const checked = el.arForm.querySelector('input[name="rule"]:checked');
  return checked ? checked.value : null;
}

function renderAutoRenew() {
  const ar = state.autoRenew;
  const card = state.card;
  if (!ar || !card) return;
  const currency = card.currency || 'CNY';
  const keepFeeAllowed = !card.plan || card.plan.model !== 'validity';
  el.arKeepFeeChoice.hidden = !keepFeeAllowed;

  el.arState.dataset.on = String(ar.enabled === true);
  if (ar.enabled && ar.rule === 'threshold') {
    el.arState.textContent = t('arOnThreshold', yuan(ar.threshold, currency), yuan(ar.amount, currency));
  } else if (ar.enabled) {
    el.arState.textContent = t('arOnKeepFee');
  } else if (card.status === 'recycled') {
    el.arState.textContent = t('arRecycled');
  } else {
    el.arState.textContent = t('arOff');
  }

  // The form shows what is set (a switched-off setting keeps its rule and amounts), but only
  // until the person starts changing it: a refresh never overwrites what is being typed.
  if (!state.arFormFilled) {
    state.arFormFilled = true;
    let rule = ar.rule === 'threshold' || ar.rule === 'keep_fee' ? ar.rule : 'keep_fee';
    if (!keepFeeAllowed) rule = 'threshold';
    for (const radio of el.arForm.querySelectorAll('input[name="rule"]')) radio.checked = radio.value === rule;
    el.arThreshold.value = ar.rule === 'threshold' ? yuanInput(ar.threshold) : '';
    el.arAmount.value = ar.rule === 'threshold' ? yuanInput(ar.amount) : '';
    el.arThreshold.removeAttribute('aria-invalid');
    el.arAmount.removeAttribute('aria-invalid');
  }
  el.arFields.hidden = checkedRule() !== 'threshold';

  const limits = state.limits;
  if (limits && Number.isSafeInteger(limits.min_amount) && Number.isSafeInteger(limits.max_amount)) {
    el.arAmountHint.textContent = t('arAmountHint', yuanShort(limits.min_amount, currency), yuanShort(limits.max_amount, currency));
  } else {
    el.arAmountHint.textContent = '';
  }

  // A recycled card can only have it turned off.
  el.arForm.querySelector('fieldset').hidden = card.status === 'recycled';
  if (card.status === 'recycled') el.arFields.hidden = true;
  el.arSave.hidden = card.status === 'recycled';
  el.arOff.hidden = ar.enabled !== true;
  const busy = state.busy.ar;
  el.arSave.disabled = Boolean(busy);
  el.arOff.disabled = Boolean(busy);
  el.arSave.textContent = busy === 'save' ? t('saving') : t(ar.enabled ? 'arSave' : 'arTurnOn');
  el.arOff.textContent = busy === 'off' ? t('saving') : t('arTurnOff');
}

async function saveAutoRenew(body, which) {
  if (state.busy.ar) return;
  state.busy.ar = which;
  renderAutoRenew();
  say(el.arMsg, null, null);
  try {
    state.autoRenew = await portal('PUT', '/api/v1/portal/auto-renew', body);
    state.arFormFilled = false;
    say(el.arMsg, 'ok', () => t(body.enabled ? 'arSavedOn' : 'arSavedOff'));
  } catch (err) {
    if (!err.expired) {
      // Our words for the code, then the server's own message.
      const words = errorWords(err, { invalid_request: 'arInvalid' });
      say(el.arMsg, 'error', () => [words(), err.message && err.message !== err.code ? err.message : '']);
    }
  } finally {
    state.busy.ar = null;
    renderAutoRenew();
  }
}

function onArSubmit(event) {
  event.preventDefault();
  if (state.busy.ar || !state.card) return;
  const rule = checkedRule() || 'keep_fee';
  if (rule === 'keep_fee') {
    saveAutoRenew({ enabled: true, rule }, 'save');
    return;
  }
  const threshold = parseYuan(el.arThreshold.value);
  const amount = parseYuan(el.arAmount.value);
  setInvalid(el.arThreshold, threshold === null);
  setInvalid(el.arAmount, amount === null || amount === 0);
  if (threshold === null || amount === null || amount === 0) {
    say(el.arMsg, 'error', () => t('arAmountBad'));
    (threshold === null ? el.arThreshold : el.arAmount).focus();
    return;
  }
  saveAutoRenew({ enabled: true, rule, amount, threshold }, 'save');
}

function setInvalid(input, invalid) {
  if (invalid) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

function renderHistory() {
  const history = state.history;
  if (!history) return;
  const orders = Array.isArray(history.orders) ? history.orders : [];
  const moves = Array.isArray(history.movements) ? history.movements : [];

  el.orders.replaceChildren(...(orders.length ? orders.map(orderItem) : [emptyItem()]));
  el.moves.replaceChildren(...(moves.length ? moves.map(moveItem) : [emptyItem()]));
}

function span(className, text, lang) {
  const node = document.createElement('span');
  node.className = className;
  node.textContent = text;
  if (lang) node.lang = lang;
  return node;
}

function emptyItem() {
  const li = document.createElement('li');
  li.append(span('empty', t('noRecords')));
  return li;
}

const TONE_BADGE = { ok: 'badge-ok', bad: 'badge-bad', warn: 'badge-warn', wait: 'badge-warn' };

function orderItem(order) {
  const currency = order.currency || 'CNY';
  const li = document.createElement('li');
  let what = t('orderLine', yuan(order.face_amount, currency));
  if (Number.isSafeInteger(order.bonus_amount) && order.bonus_amount > 0) {
    what += ` + ${t('bonus', yuan(order.bonus_amount, currency))}`;
  }
  const words = ORDER_STATUS[order.status];
  const status = words ? words[state.lang === 'en' ? 1 : 0] : order.status;
  const badge = span(`badge ${TONE_BADGE[words ? words[2] : 'warn']}`, status);
  li.append(
    span('what', what),
    badge,
    span('when', when(order.created_at)),
    span('order-no mono', t('orderNo', order.order_no || '')),
  );
  return li;
}

function moveItem(move) {
  const li = document.createElement('li');
  const key = `mv_${move.kind}`;
  const word = T['zh-CN'][key] ? t(key) : t('mv_other');
  const tone = move.amount > 0 ? 'in' : move.amount < 0 ? 'out' : '';
  li.append(
    span('what', word),
    span(`amount ${tone}`, yuan(move.amount, move.currency || 'CNY', { signed: true })),
    span('when', when(move.at)),
  );
  return li;
}

// ---- wiring ----------------------------------------------------------------------------------

el.otpForm.addEventListener('submit', onSendCode);
el.codeForm.addEventListener('submit', onLogin);
el.phone.addEventListener('input', () => {
  el.phone.removeAttribute('aria-invalid');
  if (el.phoneMsg._say && el.phoneMsg._say.kind === 'error') say(el.phoneMsg, null, null);
  renderSendButton();
});
el.code.addEventListener('input', () => {
  el.code.removeAttribute('aria-invalid');
  if (el.codeMsg._say) say(el.codeMsg, null, null);
});
el.langToggle.addEventListener('click', () => pickLanguage(el.langToggle.dataset.lang));
for (const button of el.langButtons) {
  button.addEventListener('click', () => pickLanguage(button.dataset.lang));
}
el.refreshButton.addEventListener('click', () => {
  if (!state.busy.refresh) loadAccount();
});
el.logout.addEventListener('click', onLogout);
el.arForm.addEventListener('submit', onArSubmit);
el.arForm.addEventListener('change', (event) => {
  if (event.target.name === 'rule') {
    el.arFields.hidden = checkedRule() !== 'threshold';
    say(el.arMsg, null, null);
  }
});
el.arOff.addEventListener('click', () => saveAutoRenew({ enabled: false }, 'off'));

// Back on the page after a while (another app, the recharge page): show what changed.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.session && Date.now() - state.loadedAt > REFRESH_AFTER_HIDDEN_MS) {
    loadAccount();
  }
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted && state.session) loadAccount();
});

// ---- start -----------------------------------------------------------------------------------

{
  const session = loadSession();
  applyLang(storageGet(LANG_KEY) || 'zh-CN');
  if (session) {
    state.session = session;
    document.documentElement.dataset.view = 'account';
    loadAccount();
  } else {
    storageSet(SESSION_KEY, null);
    document.documentElement.dataset.view = 'login';
  }
}
