import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';
import { spawnTsx, stopChild } from './local-stack-process';

/**
 * What the browser tests drive: Debian's Chromium (never a downloaded one;
 * `.ci/run` installs the package where missing), `keygate console` as a child
 * process, and plain pages on other loopback origins to call from.
 */
export const CHROMIUM = process.env.KEYGATE_CHROMIUM ?? '/usr/bin/chromium';

export function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, ...options });
}

export interface ConsoleProcess {
  readonly child: ChildProcess;
  /** The one-time URL it printed. */
  readonly url: string;
  readonly origin: string;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** `keygate console --port 0 ...` against the local stack whose data folder is `home`. */
export async function startConsoleProcess(home: string, args: readonly string[] = [], timeoutMs = 60_000): Promise<ConsoleProcess> {
  const { child, stdout, stderr } = spawnTsx(['bin/keygate.ts', 'console', '--port', '0', ...args], { KEYGATE_HOME: home });
  const stop = () => stopChild(child, 10_000);
  const started = Date.now();
  for (;;) {
    const printed = /^keygate console: (\S+)$/m.exec(stdout());
    if (printed) {
      const url = printed[1]!;
      return { child, url, origin: new URL(url).origin, stdout, stderr, stop };
    }
    if (child.exitCode !== null || Date.now() - started > timeoutMs) {
      await stop();
      throw new Error(`keygate console did not start:\n${stdout()}\n${stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface PageServer {
  readonly origin: string;
  close(): Promise<void>;
}

/** A blank page on its own loopback origin, standing in for a customer's web app. */
export async function startPageServer(): Promise<PageServer> {
  const server: Server = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end('<!doctype html><html lang="en"><title>customer app</title><p>customer app</p></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
