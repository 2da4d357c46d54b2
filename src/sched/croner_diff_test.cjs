// Differential test: nightshift's cron fire times (cron_fires) against croner
// 11 (npm, a well-known JavaScript implementation) under node.
//
//   node croner_diff_test.cjs <cron_fires binary> <croner.cjs>
//
// Generated cases (seeded, so a failure reproduces): 5-field expressions with
// lists, ranges, steps, names and 7-as-Sunday, in zones with DST (also
// 30-minute shifts) and odd offsets, from random starts, half of them just
// before a zone's DST transition. Each case compares the next N fire instants.
//
// Where croner's rules differ from ours (job-spec.md), the case is adapted:
// - Day fields: croner ORs them whenever neither is a bare '*' (so '*/2' is
//   "restricted" there); Vixie cron and we AND them when either field starts
//   with '*'. We pass croner domAndDow = (either field starts with '*'),
//   which is our rule exactly.
// - DST: with fixedTimeRule "no-wildcard", croner treats an expression with
//   no '*' or step in minute and hour as fixed-time: a gap time runs at the
//   first instant after the gap, a repeated time once, at its first pass.
//   Those are our rules, so such cases are compared across DST transitions.
//   For the others (interval jobs) croner skips gap times and runs repeated
//   times twice, where we fire gap times at the gap's end and repeated times
//   once: those cases are compared only up to the zone's first transition
//   after the start.
// - Never-firing expressions (`0 0 31 2 *`): we reject them; croner accepts
//   them and finds no run. Both must agree that nothing fires.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');

const [driver, cronerPath] = process.argv.slice(2);
if (!driver || !cronerPath) {
  console.error('usage: node croner_diff_test.cjs <cron_fires> <croner.cjs>');
  process.exit(2);
}
if (!fs.existsSync(cronerPath)) {
  console.error(`croner not found at ${cronerPath}: run scripts/bootstrap.sh (it fetches croner into third_party/croner)`);
  process.exit(1);
}
const { Cron } = require(require('path').resolve(cronerPath));

const CASES = Number(process.env.CRONER_DIFF_CASES || 4000);
const FIRES = 6;
// Zones whose rules have been stable for years (croner reads zones from
// node's ICU, we from the OS tzdata: they agree on these).
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe',
               'Asia/Kathmandu', 'Australia/Sydney', 'Pacific/Chatham', 'Asia/Tokyo',
               'Europe/London', 'America/Los_Angeles'];
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

let seed = Number(process.env.CRONER_DIFF_SEED || 20261201) >>> 0;
function rand() {  // mulberry32
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

// One value: a number, or a name where the field has names.
function value(v, names, lo) {
  if (names && rand() < 0.3 && v - lo < names.length) {
    const n = names[v - lo];
    return rand() < 0.5 ? n : n.toLowerCase();
  }
  return String(v);
}

function field(lo, hi, names, denseBias) {
  const r = rand();
  if (r < denseBias) return '*';
  if (r < denseBias + 0.12) return `*/${int(1, Math.min(hi, 20))}`;
  if (r < denseBias + 0.45) return value(int(lo, hi), names, lo);
  if (r < denseBias + 0.65) {
    const a = int(lo, hi), b = int(a, hi);
    return `${value(a, names, lo)}-${value(b, names, lo)}`;
  }
  if (r < denseBias + 0.75) {
    const a = int(lo, hi), b = int(a, hi);
    return `${a}-${b}/${int(1, Math.max(1, hi - lo))}`;
  }
  const items = new Set();
  for (let i = int(2, 4); i > 0; --i) items.add(value(int(lo, hi), names, lo));
  return [...items].join(',');
}

function expression() {
  if (rand() < 0.04) return pick(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
  const minute = field(0, 59, null, 0.1);
  const hour = field(0, 23, null, 0.3);
  const dom = field(1, 31, null, 0.55);
  const month = field(1, 12, MONTHS, 0.6);
  // Day-of-week names only for 0-6; 7 (Sunday) appears as a number.
  const dow = rand() < 0.05 ? '7' : field(0, 6, DAYS, 0.6);
  return [minute, hour, dom, month, dow].join(' ');
}

const SHORTCUTS = { '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *',
                    '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *',
                    '@hourly': '0 * * * *' };
const fieldsOf = (e) => (SHORTCUTS[e] || e).split(' ');

// Interval job in croner's "no-wildcard" sense: '*' or a step in minute or hour.
const isInterval = (e) => fieldsOf(e).slice(0, 2).some((f) => f.includes('*') || f.includes('/'));

// DST transitions of a zone between 2024 and 2032, from node's Intl (what croner uses).
function offsetAt(fmt, ms) {
  const part = fmt.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
  return part ? part.value : '';
}
function transitions(zone) {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  const out = [];
  const hour = 3600e3;
  let t = Date.UTC(2024, 0, 1), prev = offsetAt(fmt, t);
  for (; t < Date.UTC(2032, 0, 1); t += 6 * hour) {
    const cur = offsetAt(fmt, t + 6 * hour);
    if (cur !== prev) {
      let lo = t, hi = t + 6 * hour;  // offset changes in (lo, hi]
      while (hi - lo > 60e3) {
        const mid = lo + Math.floor((hi - lo) / 120e3) * 60e3;
        if (offsetAt(fmt, mid) === prev) lo = mid; else hi = mid;
      }
      out.push(hi);
      prev = cur;
    }
  }
  return out;
}
const TRANSITIONS = Object.fromEntries(ZONES.map((z) => [z, transitions(z)]));

function start(zone) {
  const ts = TRANSITIONS[zone];
  if (ts.length && rand() < 0.5) {
    // Up to two days before a transition, so the fires cross it.
    return Math.floor(pick(ts) / 1000) - int(0, 48 * 3600);
  }
  return int(Date.UTC(2024, 0, 1) / 1000, Date.UTC(2031, 0, 1) / 1000);
}

function cronerFires(expr, zone, startSec) {
  const [, , dom, , dow] = fieldsOf(expr);
  const job = new Cron(expr, {
    timezone: zone, mode: '5-part', paused: true, fixedTimeRule: 'no-wildcard',
    domAndDow: dom.startsWith('*') || dow.startsWith('*'),
  });
  return job.nextRuns(FIRES, new Date(startSec * 1000)).map((d) => Math.round(d.getTime() / 1000));
}

const cases = [];
for (let i = 0; i < CASES; ++i) {
  const zone = ZONES[i % ZONES.length];
  cases.push({ expr: expression(), zone, start: start(zone) });
}
// Never-firing ones, and the OR/AND edge cases, always.
for (const expr of ['0 0 31 2 *', '0 0 30 2 *', '* * 31 4,6,9,11 *', '0 0 31 2 */2', '0 0 29 2 *',
                    '0 0 31 2 MON', '0 0 */2 * MON', '0 0 1 * */2', '30 2 * * *', '0 2 * * *',
                    '15,45 2 * * *', '30 1,2 * * *', '0 0-23/2 * * *', '0 0 29 2 */7']) {
  for (const zone of ZONES) cases.push({ expr, zone, start: start(zone) });
}

const input = cases.map((c) => `${c.expr}\t${c.zone}\t${c.start}\t${FIRES}`).join('\n') + '\n';
const run = spawnSync(driver, [], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
if (run.status !== 0) {
  console.error(`${driver} failed: ${run.stderr}`);
  process.exit(1);
}
const answers = run.stdout.trimEnd().split('\n');

const iso = (s) => new Date(s * 1000).toISOString().replace('.000', '');
let failures = 0, compared = 0, fires = 0, dstCompared = 0, never = 0;
function fail(c, why) {
  if (++failures <= 20) console.error(`MISMATCH ${JSON.stringify(c.expr)} in ${c.zone} after ${iso(c.start)}: ${why}`);
}
cases.forEach((c, i) => {
  const [status, a, b] = answers[i].split('\t');
  let theirs;
  try {
    theirs = cronerFires(c.expr, c.zone, c.start);
  } catch (e) {
    return fail(c, `croner rejects it (${e.message}); ours: ${answers[i]}`);
  }
  if (status === 'ERR') {
    if (/never fires/.test(a) && theirs.length === 0) { ++never; return; }
    return fail(c, `ours rejects it (${a}); croner: ${theirs.map(iso).join(' ')}`);
  }
  let ours = b.split(',').map(Number);
  const transition = Number(a);
  const crossesDst = transition > 0 && ours[ours.length - 1] >= transition;
  if (isInterval(c.expr) && crossesDst) {
    ours = ours.filter((t) => t < transition);
    theirs = theirs.filter((t) => t < transition);
  } else if (crossesDst) {
    ++dstCompared;
  }
  ++compared;
  fires += ours.length;
  if (ours.length !== theirs.length || ours.some((t, k) => t !== theirs[k])) {
    fail(c, `ours ${ours.map(iso).join(' ')} | croner ${theirs.map(iso).join(' ')}`);
  }
});
console.log(`${cases.length} cases: ${compared} compared (${fires} fire times; ${dstCompared} fixed-time cases across a DST transition), ${never} never-firing agreed, ${failures} mismatches`);
process.exit(failures ? 1 : 0);
