/**
 * Real headless Chromium (Debian's `chromium`) driven by playwright-core, for the dashboard tests.
 * Missing Chromium fails under CI=true; locally the test is skipped with the one command that installs it.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext } from "playwright-core";

export const CHROMIUM_PATH = process.env.KAIWA_CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS_DIR = join(import.meta.dirname, "..", "..", "test-artifacts");

/** undefined when Chromium is there; otherwise why not (and under CI this throws instead). */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const message = `Chromium not found at ${CHROMIUM_PATH}; install it with: apt-get install -y chromium`;
  if (process.env.CI === "true") throw new Error(message);
  console.log(message);
  return message;
}

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A browser for tests that need several isolated contexts (several users, each with its own storage). */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  // A fresh profile directory per run (playwright takes it as the persistent context's dir, not a flag).
  const profile = mkdtempSync(join(tmpdir(), "kaiwa-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  });
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
