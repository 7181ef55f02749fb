// Test harness for the browser tests: the real streamd binary on 127.0.0.1 with a fresh data
// dir, sources made with ffmpeg's lavfi, and Debian's chromium under playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
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

export async function startServer(dataDir, env = {}) {
  rmSync(join(dataDir, 'server.json'), { force: true });
  const proc = spawn(BIN, ['--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0'], {
    env: { ...inherited, STREAMD_LOG: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error('streamd exited early');
    const file = join(dataDir, 'server.json');
    if (existsSync(file)) {
      const { listen } = JSON.parse(readFileSync(file, 'utf8'));
      const url = `http://${listen}`;
      try {
        const res = await fetch(`${url}/healthz`);
        if (res.ok) return { url, stop: () => new Promise((r) => { proc.once('exit', r); proc.kill('SIGTERM'); }) };
      } catch { /* not yet */ }
    }
    if (Date.now() > deadline) { proc.kill(); throw new Error('streamd did not start'); }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Debian's chromium, headless, with a fresh profile, as the project's rules require. */
export async function browser() {
  const profile = tempDir('streamd-chromium-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
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
