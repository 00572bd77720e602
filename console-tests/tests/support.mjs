// Helpers of the console's browser suite: the environment scripts/test-console.sh sets up, the
// worker's CLI (a real device store syncing with the real server), headless Debian Chromium
// through playwright-core, screenshots, and a tiny PNG encoder for the worker's photos.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/test-console.sh`);
  return v;
}

export const BASE = need("GW_BASE");
export const CLI = need("GW_CLI");
export const WORK = need("GW_WORK");
export const SHOTS = need("GW_SHOTS");
export const PASSWORD = "demo-pass";
mkdirSync(SHOTS, { recursive: true });

/** Runs the worker's CLI on her own store; returns stdout (JSON parsed with `json`). */
export function cli(db, args, { json = false } = {}) {
  const argv = ["--db", join(WORK, db), ...(json ? ["--json"] : []), ...args];
  const out = execFileSync(CLI, argv, {
    env: { ...process.env, GRIDWALK_PASSWORD: PASSWORD },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return json ? JSON.parse(out) : out;
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.GW_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"],
  });
}

/** A fresh browser context (its own cookies) in Chinese, as a supervisor's laptop. */
export async function newPage(browser) {
  const context = await browser.newContext({
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
    viewport: { width: 1366, height: 900 },
  });
  return context.newPage();
}

export const shots = [];
/** A full-page screenshot in the stable folder; its name is listed at the end. */
export async function shot(page, name) {
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
  return path;
}

export async function signIn(page, user) {
  await page.goto(`${BASE}/console/`);
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click("main.login button[type=submit]")]);
}

/** Submits the action form `action` on a case page (with its fields filled by `fill`). */
export async function act(page, action, fill = async () => {}) {
  const form = page.locator(`form.action[data-action="${action}"]`);
  await form.waitFor();
  await fill(form);
  page.once("dialog", (d) => d.accept());
  await Promise.all([page.waitForNavigation(), form.locator("button[type=submit]").click()]);
}

// A minimal PNG (RGB, no filter) — the worker's "photos".
const CRC = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A `w`×`h` PNG whose pixels come from `rgb(x, y)`. */
export function png(w, h, rgb) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const [r, g, b] = rgb(x, y);
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
