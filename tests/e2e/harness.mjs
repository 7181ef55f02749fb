// Test harness for the browser tests: the real streamd binary on 127.0.0.1 with a fresh data
// dir, sources made with ffmpeg's lavfi, and Debian's chromium under playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get as httpsGet } from 'node:https';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '..', '..');
export const BIN = process.env.STREAMD_BIN || join(repo, 'target', 'debug', 'streamd');
export const ARTIFACTS = join(repo, 'test-artifacts');
export const PW = 'correct horse battery';

export function tempDir(prefix = 'streamd-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// The environment streamd runs with: STREAMD_BIN is ours, and streamd warns about a STREAMD_
// variable it does not know.
const { STREAMD_BIN: _bin, ...inherited } = process.env;

export function cli(dataDir, args, { input, env } = {}) {
  const r = spawnSync(BIN, ['--data-dir', dataDir, ...args], {
    input, encoding: 'utf8', env: { ...inherited, ...env },
  });
  if (r.status !== 0) throw new Error(`streamd ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function addUser(dataDir, name, extra = []) {
  cli(dataDir, ['user', 'add', name, '--password-stdin', ...extra], { input: `${PW}\n` });
}

/** A test movie from lavfi: a moving test pattern (never black) and a tone. */
export function makeSource(dir, name, size, seconds, rate = 30) {
  const out = join(dir, name);
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', out]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
  return out;
}

export function ingest(dataDir, source, title, tier = 'free', env = {}) {
  const out = cli(dataDir, ['ingest', source, '--title', title, '--tier', tier, '--json'],
    { env: { STREAMD_TRANSCODE_PRESET: 'ultrafast', ...env } });
  return JSON.parse(out).id;
}

/** The status `url` answers over HTTPS with only `ca` trusted (node's fetch takes no CA). */
function httpsStatus(url, ca) {
  return new Promise((done, fail) => {
    httpsGet(url, { ca }, (res) => { res.resume(); done(res.statusCode); }).on('error', fail);
  });
}

/**
 * streamd serving `dataDir`, up once its plain listener (server.json's `listen`) answers
 * /healthz. `url` is where to reach it and `plain` its plain listener. With `https` ({ url, ca }:
 * the public https origin and the CA pem its certificate chains to), the plain listener answers
 * every request with a 308 there instead, so it is up once /healthz is that redirect and
 * answers 200 over HTTPS; `url` is then the https origin.
 */
export async function startServer(dataDir, env = {}, { https } = {}) {
  rmSync(join(dataDir, 'server.json'), { force: true });
  const proc = spawn(BIN, ['--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0'], {
    env: { ...inherited, STREAMD_LOG: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = () => new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); });
  // Opening the store and binding a socket: nothing that grows with the test's work, so a fixed
  // bound, generous for a busy machine; past it, it is a hang.
  const deadline = Date.now() + 60000;
  let seen = 'no server.json yet';
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`streamd exited early (${proc.exitCode})`);
    const file = join(dataDir, 'server.json');
    if (existsSync(file)) {
      const { listen } = JSON.parse(readFileSync(file, 'utf8'));
      const plain = `http://${listen}`;
      try {
        const res = await fetch(`${plain}/healthz`, { redirect: 'manual' });
        if (!https && res.ok) return { url: plain, plain, stop };
        const to = res.headers.get('location');
        seen = `${plain}/healthz answered ${res.status}${to ? ` to ${to}` : ''}`;
        if (https && res.status === 308 && to === `${https.url}/healthz`) {
          const status = await httpsStatus(to, https.ca);
          if (status === 200) return { url: https.url, plain, stop };
          seen = `${to} answered ${status}`;
        }
      } catch (e) { seen = `${plain}/healthz: ${e.message}`; }
    }
    if (Date.now() > deadline) { proc.kill(); throw new Error(`streamd did not start in 60 s; last seen: ${seen}`); }
    // A poll interval: the loop checks real state.
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A bound, in ms, on encoding the first `seconds` of a `width`x`height` source at `fps` through
 * the ladder with x264's `preset`, plus a minute for everything around it: the same generous
 * rule as `Work::encode_secs` in tests/common/mod.rs (costs per million pixels of frames measured
 * on a busy 2-core machine and rounded up, the ladder counted as twice the source's pixels, all of
 * it three times over). It only says when to give up.
 */
export function encodeMs(seconds, width, height, fps, preset = 'veryfast') {
  const cost = {
    ultrafast: 0.015, superfast: 0.025, veryfast: 0.035, faster: 0.045, fast: 0.05,
    medium: 0.06, slow: 0.1, slower: 0.2, veryslow: 0.3,
  }[preset];
  if (cost === undefined) throw new Error(`not an x264 preset: ${preset}`);
  return Math.ceil((60 + (seconds * fps * width * height / 1e6) * 2 * cost * 3) * 1000);
}

/**
 * A bound, in ms, on the player moving `seconds` further through a movie whose segments are
 * there: a minute to start (or to recover), then the film's own clock four times over.
 */
export function playMs(seconds) {
  return 60000 + Math.ceil(seconds * 4000);
}

/**
 * What the player shows now, for a failure message: the video's clock, readiness, network
 * state and buffered ranges, hls.js's levels and tracks, and the page's player message.
 */
export function playerState(page) {
  return page.evaluate(() => {
    const v = document.getElementById('video');
    const p = window.streamdPlayer;
    const h = p && p.hls;
    const ranges = (r) => (r ? Array.from({ length: r.length }, (_, i) => [+r.start(i).toFixed(2), +r.end(i).toFixed(2)]) : null);
    const details = h && h.latestLevelDetails;
    const message = document.getElementById('player-message');
    return {
      video: v ? {
        currentTime: v.currentTime, duration: v.duration, paused: v.paused, seeking: v.seeking,
        ended: v.ended, readyState: v.readyState, networkState: v.networkState,
        buffered: ranges(v.buffered), error: v.error && v.error.message,
      } : null,
      hls: h ? {
        levels: h.levels.map((l) => l.height), currentLevel: h.currentLevel, loadLevel: h.loadLevel,
        autoLevelEnabled: h.autoLevelEnabled, live: details ? details.live : null,
        edge: details ? details.edge : null,
        audioTrack: h.audioTrack, audioTracks: h.audioTracks.map((t) => t.lang),
        subtitleTrack: h.subtitleTrack,
      } : (p ? 'no hls.js' : 'no player'),
      message: message ? message.textContent : null,
    };
  }).catch((e) => `(cannot read the page: ${e.message})`);
}

/**
 * page.waitForFunction(fn, arg), failing after `timeout` ms with `what` it waited for and what
 * was seen last: the player's state, and `seen` (a function run in the page, given `arg`) if
 * given.
 */
export async function waitPlayer(page, what, fn, arg, { timeout = 120000, polling, seen } = {}) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling });
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
    const player = await playerState(page);
    const extra = seen ? await page.evaluate(seen, arg).catch((err) => `(${err.message})`) : undefined;
    throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}; last seen: ${JSON.stringify({ player, ...(seen ? { seen: extra } : {}) })}`);
  }
}

/**
 * Debian's chromium, headless, with a fresh profile, as the project's rules require; `args`
 * are added to its command line.
 */
export async function browser(args = []) {
  const profile = tempDir('streamd-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', ...args],
    viewport: { width: 1280, height: 800 },
  });
  return { context, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

/** Signs in through the form, as `user` only: whoever was signed in before is forgotten. */
export async function signIn(page, base, user) {
  await page.context().clearCookies();
  await page.goto(`${base}/login`);
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', PW);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Mean brightness (0-255) of the frame the video shows now, drawn through a canvas. */
export function frameBrightness(page) {
  return page.evaluate(() => {
    const v = document.getElementById('video');
    const c = document.createElement('canvas');
    c.width = 160; c.height = 90;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
    return sum / (d.length / 4);
  });
}

export const figures = [];
export function figure(name, value, unit) {
  figures.push({ name, value, unit });
  console.log(`FIGURE ${name} = ${value} ${unit}`);
}
