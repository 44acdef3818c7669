// common.js - what the recharge, order and sandbox pages share: number normalisation and the
// Luhn check, money formatting (integer fen only, never floating point), the JSON API client,
// and the Chinese/English words for error codes and order statuses.
//
// Every URL here is an absolute path without a host, so the pages work behind any host and port.

// ---- numbers ---------------------------------------------------------------------------------

export const CARD_DIGITS = 19;

// Turns what a person typed into ASCII: full-width digits (０-９) become 0-9, the full-width plus
// becomes "+", and separators people use when copying a number (spaces, the ideographic space,
// dashes of every width, dots, parentheses) are dropped. Anything else is kept so that it can be
// reported instead of silently ignored.
export function normalizeNumber(raw) {
  let out = '';
  for (const ch of String(raw)) {
    const code = ch.codePointAt(0);
    if (code >= 0xff10 && code <= 0xff19) out += String.fromCharCode(code - 0xff10 + 48);
    else if (ch === '＋') out += '+';
    else if (/[\s\u3000\-\u2010-\u2015\u2212\uff0d\u30fc.\uff0e()\uff08\uff09]/u.test(ch)) continue;
    else out += ch;
  }
  return out;
}

// The Luhn check digit (0-9) of a string of ASCII digits.
export function luhnDigit(digits) {
  let sum = 0;
  let double = true; // the rightmost payload digit is doubled
  for (let i = digits.length - 1; i >= 0; i--) {
    let n = digits.charCodeAt(i) - 48;
    if (double) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
    double = !double;
  }
  return (10 - (sum % 10)) % 10;
}

// Classifies normalised input. Returns one of:
//   {kind:'empty'}
//   {kind:'bad_char'}                       something that is not a digit
//   {kind:'partial', digits}                still being typed
//   {kind:'too_long', digits}
//   {kind:'bad_check', digits}              19 digits, wrong check digit
//   {kind:'card', number}                   19 digits, check digit right
//   {kind:'phone', number, display}         Chinese mobile (11 digits, 1[3-9]) or +international
export function classifyNumber(normalized) {
  if (normalized === '') return { kind: 'empty' };
  let s = normalized;
  const plus = s.startsWith('+');
  if (plus) s = s.slice(1);
  if (!/^[0-9]*$/.test(s)) return { kind: 'bad_char' };
  if (plus && s === '') return { kind: 'partial', digits: 0 };

  // A Chinese mobile number, with or without its country code.
  let national = null;
  if (/^1[3-9][0-9]{9}$/.test(s) && !plus) national = s;
  else if (/^861[3-9][0-9]{9}$/.test(s)) national = s.slice(2);
  else if (!plus && /^00861[3-9][0-9]{9}$/.test(s)) national = s.slice(4);
  if (national) {
    return {
      kind: 'phone',
      number: national,
      display: `${national.slice(0, 3)} ${national.slice(3, 7)} ${national.slice(7)}`,
    };
  }
  if (plus) {
    // Another country's number: "+" and 8 to 15 digits; it cannot be a card number.
    if (s.length > 15) return { kind: 'too_long', digits: s.length };
    if (s.length >= 8 && !s.startsWith('86')) {
      return { kind: 'phone', number: `+${s}`, display: `+${s}` };
    }
    return { kind: 'partial', digits: s.length };
  }
  if (s.length < CARD_DIGITS) return { kind: 'partial', digits: s.length };
  if (s.length > CARD_DIGITS) return { kind: 'too_long', digits: s.length };
  if (luhnDigit(s.slice(0, CARD_DIGITS - 1)) !== s.charCodeAt(CARD_DIGITS - 1) - 48) {
    return { kind: 'bad_check', digits: s.length };
  }
  return { kind: 'card', number: s };
}

// "8986010000000000018" -> "8986 0100 0000 0000 018", the way it is printed on the card.
export function groupCardNumber(digits) {
  return digits.replace(/(\d{4})(?=\d)/g, '$1 ');
}

// ---- money -----------------------------------------------------------------------------------

const CURRENCY_SIGNS = { CNY: '¥', HKD: 'HK$', USD: 'US$', EUR: '€' };

// Formats an integer amount of minor units: 10000 -> "¥100", 10050 -> "¥100.50".
export function formatMoney(minor, currency = 'CNY') {
  if (!Number.isSafeInteger(minor)) return '—';
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const major = Math.floor(abs / 100);
  const cents = abs % 100;
  const symbol = CURRENCY_SIGNS[currency] ?? `${currency} `;
  const text = cents === 0 ? String(major) : `${major}.${String(cents).padStart(2, '0')}`;
  return `${sign}${symbol}${text}`;
}

// ---- API -------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Calls the JSON API. Resolves to {status, data}; rejects with an ApiError for a 4xx/5xx (code
// from the error body) or for a network failure (code 'network').
export async function apiCall(method, path, { body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', String(err && err.message));
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || response.statusText,
      response.headers.get('Retry-After'),
    );
  }
  return { status: response.status, data };
}

// A random key for Idempotency-Key. crypto.randomUUID exists only in secure contexts (https or
// localhost); on a plain-http LAN address fall back to getRandomValues, which exists everywhere.
export function newIdempotencyKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- words -----------------------------------------------------------------------------------

// Friendly text per error code: [Chinese, English].
const ERROR_TEXT = {
  invalid_card_number: ['卡号不正确，请核对卡背面的19位号码', 'Invalid card number: check the 19 digits on the back of the card'],
  invalid_phone_number: ['手机号不正确，请核对后重新输入', 'Invalid phone number'],
  card_not_found: ['没有找到这张卡，请核对号码', 'No card with this number'],
  card_not_rechargeable: ['这张卡不能充值', 'This card cannot be recharged'],
  amount_out_of_range: ['充值金额超出范围', 'Amount out of range'],
  amount_not_allowed: ['不支持这个充值金额，请换一个金额', 'This amount is not allowed: pick another'],
  invalid_amount: ['金额格式不正确', 'Invalid amount'],
  rate_limited: ['查询太频繁，请稍后再试', 'Too many requests: please wait a moment'],
  order_not_found: ['没有找到这笔订单', 'Order not found'],
  idempotency_conflict: ['订单信息有变化，请重新确认后支付', 'The order changed: please confirm again'],
  payment_method_unavailable: ['这个支付方式暂不可用', 'This payment method is unavailable'],
  channel_not_allowed: ['这个渠道不能充值', 'Channel not allowed'],
  unavailable: ['服务正在维护，请稍后再试', 'Service unavailable: please try again later'],
  network: ['网络不通，请检查网络后重试', 'Network error: check your connection and retry'],
};

// [Chinese, English] for an ApiError (or anything thrown).
export function errorText(err) {
  const code = err && err.code;
  if (code && ERROR_TEXT[code]) {
    const [zh, en] = ERROR_TEXT[code];
    if (code === 'rate_limited' && err.retryAfter) {
      return [`${zh}（约 ${err.retryAfter} 秒后）`, `${en} (about ${err.retryAfter} s)`];
    }
    return [zh, en];
  }
  if (err && err.status >= 500) return ['服务暂时出错，请稍后再试', err.message || 'Server error'];
  return [(err && err.message) || '出错了，请重试', code ? `Error: ${code}` : 'Something went wrong'];
}

// Order status -> [Chinese, English, tone]. tone: ok | bad | wait | warn.
export const ORDER_STATUS = {
  pending_payment: ['待支付', 'Awaiting payment', 'wait'],
  paid: ['已支付，到账中', 'Paid, crediting', 'wait'],
  succeeded: ['充值成功', 'Recharge succeeded', 'ok'],
  failed: ['支付失败', 'Payment failed', 'bad'],
  expired: ['已过期', 'Expired', 'bad'],
  review: ['人工核查中', 'Under manual review', 'warn'],
  refunding: ['退款中', 'Refunding', 'warn'],
  refunded: ['已退款', 'Refunded', 'warn'],
};

export function orderStatusWords(status) {
  return ORDER_STATUS[status] || [status || '未知', status || 'Unknown', 'warn'];
}

// Card status -> [Chinese, English, tone].
export const CARD_STATUS = {
  active: ['正常使用', 'Active', 'ok'],
  suspended: ['已停机：充值后立即恢复', 'Suspended: service resumes as soon as you recharge', 'warn'],
  recycled: ['号码已回收，不能充值', 'Number recycled: this card can no longer be recharged', 'bad'],
};

// Sets an element's content to a Chinese line and an English sub-line, as text (never HTML).
export function setBilingual(el, zh, en) {
  el.replaceChildren();
  const main = document.createElement('span');
  main.className = 'zh';
  main.textContent = zh;
  el.append(main);
  if (en) {
    const sub = document.createElement('span');
    sub.className = 'en';
    sub.lang = 'en';
    sub.textContent = en;
    el.append(sub);
  }
}
