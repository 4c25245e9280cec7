import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, startConsoleProcess, startPageServer, type ConsoleProcess, type PageServer } from './support/browser';
import { isAlive, keygateCli, startStackProcess, stopStackProcess, type StackProcess } from './support/local-stack-process';

/**
 * The API key management console in a real Chromium, against `npm start`
 * (the bundles that deploy, DynamoDB Local, the local gateway with
 * CORS_ALLOWED_ORIGINS) and `keygate console` as a child process. The tests
 * share one stack, one console and one signed-in browser, and run in order.
 */
jest.setTimeout(120_000);

// Browser globals, used inside page callbacks only (the project compiles without the DOM library).
declare const document: any, window: any, navigator: any, localStorage: any, sessionStorage: any, getComputedStyle: any;
type HTMLElement = any;
type HTMLInputElement = any;
type HTMLFormElement = any;

const APP = 'browser-app';
/** Written to the repository (and shown in the README) only with UPDATE_SCREENSHOTS=1. */
const SCREENSHOT = path.join(__dirname, 'screenshots', 'console.png');

let home: string;
let stack: StackProcess | undefined;
let consoleProcess: ConsoleProcess | undefined;
let allowedSite: PageServer;
let otherSite: PageServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageEvents: string[] = [];

const apiUrl = (appUid: string, route: string) => `${stack!.info.apiUrl}/api/v1/appuid/${appUid}/${route}`;

async function call(method: string, url: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

async function session(appUid: string, key: string, externalId: string): Promise<string> {
  const auth = await call('POST', apiUrl(appUid, 'sdkusers/auth'), { 'x-api-key': key }, { externalId });
  expect(auth.status).toBe(200);
  return auth.json.authToken as string;
}

/** A key made with the CLI; `--new-app`: the first key of each test's app is made here. */
async function createWithCli(appUid: string, name: string, ...more: string[]): Promise<{ keyId: string; apiKey: string }> {
  const created = await keygateCli(home, 'keys', 'create', '--app', appUid, '--name', name, '--new-app', '--json', ...more);
  expect(created.code).toBe(0);
  return JSON.parse(created.stdout);
}

interface Row {
  name: string;
  prefix: string;
  keyId: string;
  created: string;
  expires: string;
  lastUsed: string;
  status: string;
}

async function rows(target: Page = page): Promise<Row[]> {
  return target.$$eval('#key-rows tr', (trs) =>
    trs.map((tr) => {
      const [name, prefix, keyId, created, expires, lastUsed, status] = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
      return { name: name!, prefix: prefix!, keyId: keyId!, created: created!, expires: expires!, lastUsed: lastUsed!, status: status! };
    }),
  );
}

async function row(keyId: string, target: Page = page): Promise<Row | undefined> {
  return (await rows(target)).find((r) => r.keyId === keyId);
}

/** Clicks a row's action button (Roll, Edit, Disable, Enable, Delete). */
async function rowAction(keyId: string, action: string, target: Page = page): Promise<void> {
  await target.click(`#key-rows tr[data-key-id="${keyId}"] button:text-is("${action}")`);
}

async function openApp(appUid: string, target: Page = page): Promise<void> {
  await target.goto(`${consoleProcess!.origin}/apps/${encodeURIComponent(appUid)}/keys`);
  await target.waitForFunction(() => document.querySelector('#keys:not([hidden])') && (document.querySelector('#key-rows tr') || !document.querySelector('#empty')?.hasAttribute('hidden') || !document.querySelector('#error')?.hasAttribute('hidden')));
}

/** Whether a child process logs a line matching `pattern` within 5 s (its output arrives through a pipe). */
async function logLine(output: () => string, pattern: RegExp): Promise<boolean> {
  for (let waited = 0; waited < 5_000; waited += 50) {
    if (pattern.test(output())) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return pattern.test(output());
}

/** Waits until the element's text is `text` (the page updates it after an await). */
async function waitForText(selector: string, text: string, target: Page = page): Promise<void> {
  await target.waitForFunction(({ selector: s, text: t }) => document.querySelector(s)?.textContent === t, { selector, text });
}

async function generate(name: string, target: Page = page): Promise<string> {
  await target.fill('#key-name', name);
  await target.click('#create-button');
  await target.waitForSelector('#created-dialog[open]');
  return target.inputValue('#created-key');
}

beforeAll(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'keygate-console-e2e-'));
  [allowedSite, otherSite] = await Promise.all([startPageServer(), startPageServer()]);
  // The console finds the local stack on each call (local.json), so all three start side by side.
  [stack, browser, consoleProcess] = await Promise.all([
    startStackProcess(home, { CORS_ALLOWED_ORIGINS: allowedSite.origin }),
    // rebind.test resolves to 127.0.0.1: a DNS-rebinding page, as far as the console can tell.
    launchChromium({ args: ['--host-resolver-rules=MAP rebind.test 127.0.0.1'] }),
    startConsoleProcess(home, ['--app', APP]),
  ]);
  // UTC: the expiry fields take local time, and the page shows UTC.
  context = await browser.newContext({ viewport: { width: 1200, height: 820 }, timezoneId: 'UTC' });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: consoleProcess.origin });
  page = await context.newPage();
  page.on('console', (message) => pageEvents.push(`console.${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => pageEvents.push(`pageerror: ${error.message}`));
  page.on('dialog', (dialog) => {
    pageEvents.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
});

afterAll(async () => {
  await browser?.close();
  await consoleProcess?.stop();
  const dynamodbPid = stack?.info.dynamodbPid;
  if (stack) await stopStackProcess(stack);
  if (isAlive(dynamodbPid)) process.kill(dynamodbPid!, 'SIGKILL');
  await Promise.all([allowedSite?.close(), otherSite?.close()]);
  rmSync(home, { recursive: true, force: true });
});

test('keygate console prints one line with a one-time link on loopback; opening it signs the browser in and drops the token', async () => {
  expect(consoleProcess!.stdout()).toBe(`keygate console: ${consoleProcess!.url}\n`);
  expect(consoleProcess!.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/apps/${APP}/keys\\?token=[A-Za-z0-9_-]{43}$`));
  const response = await page.goto(consoleProcess!.url);
  expect(response!.status()).toBe(200);
  expect(page.url()).toBe(`${consoleProcess!.origin}/apps/${APP}/keys`);
  // The script fills both after asking the console (/api/info): wait for it, as a busy machine may take a moment.
  await waitForText('#keys-title', `API keys of ${APP}`);
  await waitForText('#target', 'Managing the local stack');
  const cookies = await context.cookies(consoleProcess!.origin);
  expect(cookies).toEqual([expect.objectContaining({ name: 'keygate_console', httpOnly: true, sameSite: 'Strict' })]);
  await expect(page.evaluate(() => document.cookie)).resolves.toBe('');
});

let browserKey: string;
let browserKeyId: string;

test('an app with no keys that the registry does not know (a typo?) says so; its first key needs the new-app confirmation', async () => {
  await openApp(APP);
  await page.waitForSelector('#new-app:not([hidden])');
  await expect(page.textContent('#new-app')).resolves.toMatch(new RegExp(`^\\s*${APP} has no keys yet\\..*typo`));
  await expect(page.textContent('#create-button')).resolves.toBe('Start application and generate key');
  expect(await page.isVisible('#app-meta')).toBe(false);

  // Unconfirmed, the browser holds the form back: the confirmation is required.
  await page.fill('#key-name', 'first key');
  await page.click('#create-button');
  expect(await page.evaluate(() => document.querySelector('#new-app-check').validity.valueMissing)).toBe(true);
  expect(await page.$('#created-dialog[open]')).toBeNull();
  // A page that skips it (a stale one, or no script) is refused by the console server.
  const unconfirmed = await page.evaluate(async (appUid) => {
    const answer = await fetch(`/api/apps/${appUid}/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'unconfirmed' }) });
    return [answer.status, ((await answer.json()) as { errorType: string }).errorType];
  }, APP);
  expect(unconfirmed).toEqual([404, 'AppNotFound']);
  expect(await keygateCli(home, 'apps', 'show', '--app', APP)).toMatchObject({ code: 1, stderr: `keygate: app ${APP} not found: it has no keys and no plan\n` });

  await page.check('#new-app-check');
  await generate('first key');
  await page.click('#created-done');
  await page.waitForSelector('#new-app', { state: 'hidden' });
  await page.waitForSelector('#app-meta:not([hidden])');
  await expect(page.textContent('#app-meta')).resolves.toMatch(/^1 key · first key \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  await expect(page.textContent('#create-button')).resolves.toBe('Generate key');
  expect(JSON.parse((await keygateCli(home, 'apps', 'show', '--app', APP, '--json')).stdout)).toMatchObject({ appUid: APP, keyCount: 1 });
});

test('generate a key in the page; Copy puts exactly the key on the clipboard, and whoami with it is 200', async () => {
  await openApp(APP);
  browserKey = await generate('browser key');
  await expect(page.textContent('#created-warning')).resolves.toMatch(/you will not see it again/);
  await page.click('#copy-button');
  await waitForText('#copy-status', 'Copied to the clipboard.');
  const clipboard = await page.evaluate(() => navigator.clipboard.readText());
  expect(clipboard).toBe(browserKey);
  expect(clipboard).toMatch(/^kg_[A-Za-z0-9]{49}$/);

  const whoami = await call('GET', apiUrl(APP, 'whoami'), { 'x-api-key': clipboard });
  expect(whoami.status).toBe(200);
  browserKeyId = whoami.json.keyId;

  await page.click('#created-done');
  await page.waitForFunction(() => !document.querySelector('#created-dialog').open);
  await page.waitForFunction((keyId) => !!document.querySelector(`#key-rows tr[data-key-id="${keyId}"]`), browserKeyId);
  expect(await row(browserKeyId)).toEqual({
    name: 'browser key',
    prefix: browserKey.slice(0, 11),
    keyId: browserKeyId,
    created: expect.stringMatching(/ UTC$/),
    expires: 'never',
    lastUsed: expect.stringMatching(/ UTC$|^never$/),
    status: 'active',
  });
});

test('the key is kept nowhere: not in the page once the dialog is closed, storage, cookies, the URL, the logs', async () => {
  expect(await page.content()).not.toContain(browserKey);
  expect(await page.inputValue('#created-key')).toBe('');
  const storage = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage } }));
  expect(storage).not.toContain(browserKey);
  expect(JSON.stringify(await context.cookies())).not.toContain(browserKey);
  expect(page.url()).not.toContain(browserKey);
  expect(pageEvents.join('\n')).not.toContain(browserKey);
  expect(consoleProcess!.stderr()).not.toContain(browserKey);
  expect(stack!.stderr()).not.toContain(browserKey);
});

test('delete in the page: the dialog names the key and says its sessions live on; the next call is 401, the session still works', async () => {
  const authToken = await session(APP, browserKey, 'user-before-delete');
  await rowAction(browserKeyId, 'Delete');
  await page.waitForSelector('#delete-dialog[open]');
  await expect(page.textContent('#delete-title')).resolves.toBe('Delete key “browser key”?');
  await expect(page.textContent('#delete-meta')).resolves.toBe(`${browserKey.slice(0, 11)} · ${browserKeyId}`);
  const effects = await page.textContent('#delete-effects');
  expect(effects).toMatch(/next API request with this key is refused/);
  expect(effects).toMatch(/Sessions already created with it stay valid until they expire/);

  await page.click('#delete-confirm');
  await page.waitForFunction((keyId) => !document.querySelector(`#key-rows tr[data-key-id="${keyId}"]`), browserKeyId);
  await expect(page.textContent('#status')).resolves.toMatch(new RegExp(`Deleted key browser key \\(${browserKeyId}\\)`));
  expect((await rows()).map((row) => row.keyId)).not.toContain(browserKeyId);

  expect((await call('GET', apiUrl(APP, 'whoami'), { 'x-api-key': browserKey })).status).toBe(401);
  const me = await call('GET', apiUrl(APP, 'sdkusers/me'), { authorization: `Bearer ${authToken}` });
  expect(me).toMatchObject({ status: 200, json: { appUid: APP, externalId: 'user-before-delete' } });
});

test('a key name that is markup shows as text, in the list and in the delete dialog', async () => {
  const name = '<img src=x onerror=alert(1)><script>alert(2)</script>';
  await generate(name);
  await page.click('#created-done');
  await page.waitForFunction((n) => [...document.querySelectorAll('#key-rows td.name')].some((td) => td.textContent === n), name);
  expect(await page.$$('#key-rows img, #key-rows script, #delete-dialog img')).toHaveLength(0);
  const markup = (await rows()).find((r) => r.name === name)!;
  await rowAction(markup.keyId, 'Delete');
  await expect(page.textContent('#delete-name')).resolves.toBe(`“${name}”`);
  expect(await page.$$('#delete-dialog img, #delete-dialog script')).toHaveLength(0);
  await page.click('#delete-cancel');
  expect(pageEvents.filter((event) => event.startsWith('dialog:') || event.startsWith('pageerror:'))).toEqual([]);
});

test("errors from the admin functions read as their message, never a stack trace", async () => {
  await page.fill('#key-name', 'x'.repeat(101));
  await page.click('#create-button');
  await page.waitForSelector('#error:not([hidden])');
  await expect(page.textContent('#error')).resolves.toBe('name must be at most 100 characters');
  expect(await page.$('#created-dialog[open]')).toBeNull();

  await openApp('not a valid app');
  await expect(page.textContent('#error')).resolves.toBe('appUid may contain only letters, digits, _ and -');
});

test('many keys come in pages of 20', async () => {
  const app = 'paging-app';
  // The first key alone: it starts the app (and puts it on the default plan); the rest in parallel.
  await createWithCli(app, 'key 00');
  await Promise.all(Array.from({ length: 22 }, (_, i) => createWithCli(app, `key ${String(i + 1).padStart(2, '0')}`)));
  await openApp(app);
  expect(await rows()).toHaveLength(20);
  await expect(page.isDisabled('#prev-page')).resolves.toBe(true);
  await page.click('#next-page');
  await page.waitForFunction(() => document.querySelectorAll('#key-rows tr').length === 3);
  await expect(page.textContent('#page-info')).resolves.toBe('Page 2');
  await expect(page.isDisabled('#next-page')).resolves.toBe(true);
  await page.click('#prev-page');
  await page.waitForFunction(() => document.querySelectorAll('#key-rows tr').length === 20);
  const names = new Set((await rows()).map((row) => row.name));
  expect(names.size).toBe(20);
});

test('the start page lists the applications (list-apps) with their key counts, and opens one by link or by id', async () => {
  await page.goto(`${consoleProcess!.origin}/`);
  await page.waitForSelector('#apps-table:not([hidden])');
  const listed = await page.$$eval('#app-rows tr', (trs) =>
    trs.map((tr) => {
      const cells = [...tr.querySelectorAll('td')];
      return [cells[0].textContent, cells[0].querySelector('a')?.getAttribute('href'), cells[1].textContent, cells[2].textContent];
    }),
  );
  expect(listed).toEqual(
    expect.arrayContaining([
      ['paging-app', '/apps/paging-app/keys', '23', expect.stringMatching(/ UTC$/)],
      [APP, `/apps/${APP}/keys`, expect.stringMatching(/^\d+$/), expect.stringMatching(/ UTC$/)],
    ]),
  );
  // Opening an app that does not exist started nothing.
  expect(listed.map(([appUid]) => appUid)).not.toContain('not a valid app');
  // The registry lists them all: no recent-apps memory on a target that has list-apps.
  expect(await page.isVisible('#recent')).toBe(false);
  await page.click('#app-rows a[href="/apps/paging-app/keys"]');
  await page.waitForURL(`${consoleProcess!.origin}/apps/paging-app/keys`);
  await page.waitForSelector('#app-meta:not([hidden])');
  await expect(page.textContent('#app-meta')).resolves.toMatch(/^23 keys · /);
  await page.goto(`${consoleProcess!.origin}/`);
  await page.waitForSelector('#picker:not([hidden])');
  await page.fill('#app-input', APP);
  await page.press('#app-input', 'Enter');
  await page.waitForURL(`${consoleProcess!.origin}/apps/${APP}/keys`);
});

/** Tabs through the page; the controls that took focus, with their accessible names and whether the focus ring shows. */
async function tabThrough(target: Page, presses: number) {
  const seen: { id: string; name: string; ring: boolean }[] = [];
  for (let i = 0; i < presses; i += 1) {
    await target.keyboard.press('Tab');
    seen.push(
      await target.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const style = getComputedStyle(el);
        const labelled = el.getAttribute('aria-label') ?? (el as HTMLInputElement).labels?.[0]?.textContent ?? el.textContent ?? '';
        return { id: el.id || `${el.tagName.toLowerCase()}:${el.getAttribute('href') ?? el.textContent}`, name: labelled.trim(), ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
      }),
    );
  }
  return seen;
}

test('keyboard only: every control is reached by Tab with a visible focus ring and a name; generate and copy without a mouse', async () => {
  await createWithCli(APP, 'keyboard check');
  await openApp(APP);
  const focusable = await page.$$eval('a[href], button:not([disabled]), input', (els) =>
    els.filter((el) => (el as HTMLElement).offsetParent !== null && !el.closest('dialog')).map((el) => el.id || `${el.tagName.toLowerCase()}:${el.getAttribute('href') ?? el.textContent}`),
  );
  // Enough presses to go round the page at least once (the date-time field takes one per part).
  // Past the last control focus leaves the page (the browser's own UI), then starts over.
  const seen = (await tabThrough(page, focusable.length + 12)).filter((control) => !control.id.startsWith('body:'));
  expect(new Set(seen.map((s) => s.id))).toEqual(new Set(focusable));
  for (const control of seen) {
    expect([control.id, control.ring]).toEqual([control.id, true]);
    expect([control.id, control.name.length > 0]).toEqual([control.id, true]);
  }

  await page.focus('#key-name');
  await page.keyboard.type('typed key');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#created-dialog[open]');
  // The dialog opens with the key selected; Tab reaches Copy, then Done.
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('created-key');
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('copy-button');
  await page.keyboard.press('Enter');
  await waitForText('#copy-status', 'Copied to the clipboard.');
  const typedKey = await page.evaluate(() => navigator.clipboard.readText());
  expect((await call('GET', apiUrl(APP, 'whoami'), { 'x-api-key': typedKey })).status).toBe(200);
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('created-done');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.querySelector('#created-dialog').open);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('key-name');
});

test('axe-core: no serious or critical violation on the start page, the key list, its dialogs and an error', async () => {
  const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Injected through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
  const audit = async (what: string) => {
    await page.evaluate(axeSource);
    const violations = await page.evaluate(async () => {
      const result = await (window as any).axe.run(document, { resultTypes: ['violations'] });
      return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n: any) => n.target.join(' ')) }));
    });
    return { what, serious: violations.filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical') };
  };
  await page.goto(`${consoleProcess!.origin}/`);
  await page.waitForSelector('#picker:not([hidden])');
  expect(await audit('start page')).toEqual({ what: 'start page', serious: [] });
  await openApp(APP);
  expect(await audit('key list')).toEqual({ what: 'key list', serious: [] });
  await generate('axe key');
  expect(await audit('generated key dialog')).toEqual({ what: 'generated key dialog', serious: [] });
  await page.click('#created-done');
  const first = (await rows())[0]!.keyId;
  for (const [action, dialog, cancel] of [
    ['Delete', 'delete-dialog', 'delete-cancel'],
    ['Roll', 'roll-dialog', 'roll-cancel'],
    ['Edit', 'edit-dialog', 'edit-cancel'],
  ] as const) {
    await rowAction(first, action);
    await page.waitForSelector(`#${dialog}[open]`);
    expect(await audit(dialog)).toEqual({ what: dialog, serious: [] });
    await page.click(`#${cancel}`);
  }
  await page.fill('#key-name', '');
  await page.evaluate(() => (document.querySelector('#create-form') as HTMLFormElement).noValidate = true);
  await page.click('#create-button');
  await page.waitForSelector('#error:not([hidden])');
  expect(await audit('error shown')).toEqual({ what: 'error shown', serious: [] });
});

describe('key lifecycle in the page', () => {
  const app = 'lifecycle-app';
  let oldKey: string;
  let oldKeyId: string;
  let oldSession: string;
  let newKey: string;
  let newKeyId: string;

  beforeAll(async () => {
    ({ apiKey: oldKey, keyId: oldKeyId } = await createWithCli(app, 'rolling key'));
    oldSession = await session(app, oldKey, 'user-of-old-key');
    await openApp(app);
  });

  test('roll with no grace: the new key is shown once and works from the clipboard; the old one is refused at once; its session lives on', async () => {
    await rowAction(oldKeyId, 'Roll');
    await page.waitForSelector('#roll-dialog[open]');
    await expect(page.textContent('#roll-title')).resolves.toBe('Roll key “rolling key”');
    await page.selectOption('#roll-grace', '0');
    await page.fill('#roll-new-name', 'rolled key');
    await page.click('#roll-confirm');
    await page.waitForSelector('#created-dialog[open]');
    await expect(page.textContent('#created-title')).resolves.toBe('Key rolled');
    await expect(page.textContent('#created-note')).resolves.toMatch(new RegExp(`The old key ${oldKeyId} is refused from .* UTC\\. Sessions are not affected\\.`));
    await page.click('#copy-button');
    await waitForText('#copy-status', 'Copied to the clipboard.');
    newKey = await page.evaluate(() => navigator.clipboard.readText());
    await page.click('#created-done');

    const whoami = await call('GET', apiUrl(app, 'whoami'), { 'x-api-key': newKey });
    expect(whoami.status).toBe(200);
    newKeyId = whoami.json.keyId;
    expect((await call('GET', apiUrl(app, 'whoami'), { 'x-api-key': oldKey })).status).toBe(401);
    expect((await call('GET', apiUrl(app, 'sdkusers/me'), { authorization: `Bearer ${oldSession}` })).status).toBe(200);

    await page.waitForFunction((keyId) => !!document.querySelector(`#key-rows tr[data-key-id="${keyId}"]`), newKeyId);
    expect(await row(newKeyId)).toMatchObject({ name: 'rolled key', status: 'active' });
    expect(await row(oldKeyId)).toMatchObject({ name: 'rolling key', status: 'expired' });
    expect(await page.content()).not.toContain(newKey);
  });

  test('edit: rename and set an expiry, then clear it', async () => {
    await rowAction(newKeyId, 'Edit');
    await page.waitForSelector('#edit-dialog[open]');
    expect(await page.inputValue('#edit-name')).toBe('rolled key');
    expect(await page.isChecked('#edit-never')).toBe(true);
    await page.fill('#edit-name', 'renamed key');
    await page.uncheck('#edit-never');
    await page.fill('#edit-expires', '2030-01-02T03:04');
    await page.click('#edit-save');
    await page.waitForFunction((keyId) => document.querySelector(`#key-rows tr[data-key-id="${keyId}"] td.name`)?.textContent === 'renamed key', newKeyId);
    expect(await row(newKeyId)).toMatchObject({ name: 'renamed key', expires: '2030-01-02 03:04 UTC', status: 'active' });

    await rowAction(newKeyId, 'Edit');
    await page.waitForSelector('#edit-dialog[open]');
    expect(await page.inputValue('#edit-expires')).toBe('2030-01-02T03:04');
    await page.check('#edit-never');
    await page.click('#edit-save');
    await page.waitForFunction((keyId) => [...document.querySelectorAll(`#key-rows tr[data-key-id="${keyId}"] td`)][4]?.textContent === 'never', newKeyId);
    const listed = JSON.parse((await keygateCli(home, 'keys', 'list', '--app', app, '--json')).stdout);
    expect(listed.keys.find((key: { keyId: string }) => key.keyId === newKeyId)).toEqual(expect.not.objectContaining({ expiresAt: expect.anything() }));
  });

  test('disable: the next request is 401; enable: 200 again', async () => {
    await rowAction(newKeyId, 'Disable');
    await page.waitForFunction((keyId) => document.querySelector(`#key-rows tr[data-key-id="${keyId}"] td.state`)?.textContent === 'disabled', newKeyId);
    await expect(page.textContent('#status')).resolves.toMatch(/refused until you enable it/);
    expect((await call('GET', apiUrl(app, 'whoami'), { 'x-api-key': newKey })).status).toBe(401);

    await rowAction(newKeyId, 'Enable');
    await page.waitForFunction((keyId) => document.querySelector(`#key-rows tr[data-key-id="${keyId}"] td.state`)?.textContent === 'active', newKeyId);
    expect((await call('GET', apiUrl(app, 'whoami'), { 'x-api-key': newKey })).status).toBe(200);
  });

  test('last used: a key that made requests shows when', async () => {
    // Recorded by the authorizer off the request path: reload until it shows.
    for (let attempt = 0; ; attempt += 1) {
      await openApp(app);
      const shown = (await row(newKeyId))!.lastUsed;
      if (shown !== 'never') {
        expect(shown).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
        break;
      }
      if (attempt === 20) throw new Error('lastUsedAt never appeared');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  test('the activity log lists every change, newest first, with who asked and what changed', async () => {
    await openApp(app);
    await page.waitForSelector('#event-table:not([hidden])');
    const events = await page.$$eval('#event-rows tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const actions = events.map((event) => `${event[1]} ${event[2]}`);
    expect(actions.slice(0, 6)).toEqual([
      `enabled ${newKeyId}`,
      `disabled ${newKeyId}`,
      `updated ${newKeyId}`,
      `updated ${newKeyId}`,
      `rolled ${oldKeyId}`,
      `created ${oldKeyId}`,
    ]);
    for (const event of events) expect(event[3]).toBe(`local:${userInfo().username}`);
    expect(events[3]![4]).toMatch(/name: rolled key → renamed key/);
    expect(events[4]![4]).toMatch(new RegExp(`newKeyId: ${newKeyId}`));
  });

  test('a key reported on the public revoke route leaves the list; the log shows revoked-by-report, with no one who asked', async () => {
    const report = await call('POST', `${stack!.info.apiUrl}/api/v1/keys/revoke`, {}, { keys: [newKey] });
    expect(report).toEqual({ status: 202, json: { received: 1 } });
    expect((await call('GET', apiUrl(app, 'whoami'), { 'x-api-key': newKey })).status).toBe(401);
    await openApp(app);
    await page.waitForSelector('#event-table:not([hidden])');
    expect(await row(newKeyId)).toBeUndefined();
    const latest = await page.$eval('#event-rows tr', (tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    expect(latest).toEqual([expect.stringMatching(/ UTC$/), 'revoked-by-report', newKeyId, '—', 'name: renamed key']);
    expect(await page.content()).not.toContain(newKey);
  });
});

describe('refusals', () => {
  test('a browser without the cookie gets 401 everywhere, and the used link does not work again', async () => {
    const stranger = await browser.newContext();
    try {
      const tab = await stranger.newPage();
      for (const target of ['/', `/apps/${APP}/keys`, `/api/apps/${APP}/keys`, '/static/console.js']) {
        const response = await tab.goto(`${consoleProcess!.origin}${target}`);
        expect([target, response!.status()]).toEqual([target, 401]);
      }
      const reused = await tab.goto(consoleProcess!.url);
      expect(reused!.status()).toBe(401);
      await expect(tab.textContent('body')).resolves.toMatch(/not valid \(it works once\)/);
      expect(await stranger.cookies()).toEqual([]);
    } finally {
      await stranger.close();
    }
  });

  test('a key typed as the app id: the console refuses the address (400), and neither remembers nor logs the key', async () => {
    const { apiKey } = await createWithCli(APP, 'pasted as an app id');
    await page.goto(`${consoleProcess!.origin}/`);
    await page.waitForSelector('#picker:not([hidden])');
    await page.fill('#app-input', apiKey);
    const [answer] = await Promise.all([page.waitForResponse((response) => response.url().includes('/apps/')), page.press('#app-input', 'Enter')]);
    expect(answer.status()).toBe(400);
    await expect(page.textContent('body')).resolves.toMatch(/the address holds an API key or session token/);
    await expect(page.content()).resolves.not.toContain(apiKey);
    await page.goto(`${consoleProcess!.origin}/`);
    await page.waitForSelector('#picker:not([hidden])');
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain(apiKey);
    await expect(logLine(consoleProcess!.stderr, /GET <a path holding a key or token> 400/)).resolves.toBe(true);
    expect(consoleProcess!.stderr()).not.toContain(apiKey);
  });

  test('a page reached through another host name (DNS rebinding) is refused with 421, cookie or not', async () => {
    const port = new URL(consoleProcess!.origin).port;
    const rebound = await context.newPage();
    try {
      const response = await rebound.goto(`http://rebind.test:${port}/api/apps/${APP}/keys`);
      expect(response!.status()).toBe(421);
      await expect(rebound.textContent('body')).resolves.toMatch(/answers only to its own address/);
    } finally {
      await rebound.close();
    }
    // Not only browsers: any client naming another Host.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: `localhost:${port}` } }, (res) => resolve(res.statusCode!));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  test("another local site's page (same site, other port: the cookie goes along) cannot create a key", async () => {
    const attacker = await context.newPage();
    try {
      await attacker.goto(otherSite.origin);
      const outcome = await attacker.evaluate(async (target) => {
        // A "simple" request: no preflight, so the browser sends it (its answer is opaque, or blocked by CORP).
        await fetch(target, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ name: 'csrf key' }) }).catch(() => undefined);
        try {
          const read = await fetch(target, { credentials: 'include' });
          return `read ${read.status}`;
        } catch (error) {
          return String(error);
        }
      }, `${consoleProcess!.origin}/api/apps/${APP}/keys`);
      expect(outcome).toMatch(/TypeError/);
    } finally {
      await attacker.close();
    }
    await expect(logLine(consoleProcess!.stderr, new RegExp(`\\[console\\] POST /api/apps/${APP}/keys 403`))).resolves.toBe(true);
    const listed = await keygateCli(home, 'keys', 'list', '--app', APP, '--json');
    expect(JSON.parse(listed.stdout).keys.map((key: { name: string }) => key.name)).not.toContain('csrf key');
  });
});

describe('CORS on the session routes (npm start with CORS_ALLOWED_ORIGINS)', () => {
  const corsApp = 'cors-app';
  let key: string;
  let token: string;
  let sitePage: Page;

  beforeAll(async () => {
    ({ apiKey: key } = await createWithCli(corsApp, 'cors server key'));
    token = await session(corsApp, key, 'browser-user');
    sitePage = await context.newPage();
  });

  afterAll(async () => {
    await sitePage.close();
  });

  /** fetch from a page on `origin`: the status and body it could read, or the error the browser gave instead. */
  async function fetchFrom(origin: string, url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown } | { error: string }> {
    await sitePage.goto(origin);
    return sitePage.evaluate(
      async ({ url: target, headers: sent }) => {
        try {
          const response = await fetch(target, { headers: sent });
          return { status: response.status, body: await response.json() };
        } catch (error) {
          return { error: String(error) };
        }
      },
      { url, headers },
    );
  }

  test('a page on the allowed origin reads sdkusers/me with its session token, and can read a 401', async () => {
    const me = await fetchFrom(allowedSite.origin, apiUrl(corsApp, 'sdkusers/me'), { authorization: `Bearer ${token}` });
    expect(me).toEqual({ status: 200, body: expect.objectContaining({ appUid: corsApp, externalId: 'browser-user' }) });
    const refused = await fetchFrom(allowedSite.origin, apiUrl(corsApp, 'sdkusers/me'), { authorization: 'Bearer kgs_not_a_token' });
    expect(refused).toEqual({ status: 401, body: { message: 'Unauthorized' } });
  });

  test('a page on another origin cannot read it', async () => {
    const me = await fetchFrom(otherSite.origin, apiUrl(corsApp, 'sdkusers/me'), { authorization: `Bearer ${token}` });
    expect(me).toEqual({ error: expect.stringMatching(/TypeError/) });
  });

  test('a cross-origin call with x-api-key is blocked, even from the allowed origin: its preflight fails and the request is never sent', async () => {
    const probe = 'cors-probe-app';
    const whoami = await fetchFrom(allowedSite.origin, apiUrl(probe, 'whoami'), { 'x-api-key': key });
    expect(whoami).toEqual({ error: expect.stringMatching(/TypeError/) });
    await expect(logLine(stack!.stderr, new RegExp(`OPTIONS /api/v1/appuid/${probe}/whoami 403`))).resolves.toBe(true);
    expect(stack!.stderr()).not.toMatch(new RegExp(`GET /api/v1/appuid/${probe}/whoami`));
  });
});

test('screenshot of the key list for the README', async () => {
  const app = 'acme-shop';
  const checkout = await createWithCli(app, 'checkout service');
  await createWithCli(app, 'mobile backend');
  await createWithCli(app, 'partner import (2027)', '--expires-at', '2027-06-30T00:00:00Z');
  const smoke = await createWithCli(app, 'ci smoke tests');
  expect((await call('GET', apiUrl(app, 'whoami'), { 'x-api-key': checkout.apiKey })).status).toBe(200);
  expect((await keygateCli(home, 'keys', 'update', '--app', app, '--key', smoke.keyId, '--disable')).code).toBe(0);
  await page.setViewportSize({ width: 1440, height: 900 });
  // lastUsedAt is written off the request path: wait until the page shows it.
  for (let attempt = 0; attempt < 20; attempt += 1) {
    await openApp(app);
    await page.waitForSelector('#event-rows tr');
    if ((await row(checkout.keyId))?.lastUsed !== 'never') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect((await rows()).map((r) => r.status).sort()).toEqual(['active', 'active', 'active', 'disabled']);
  const target = process.env.UPDATE_SCREENSHOTS === '1' ? SCREENSHOT : path.join(home, 'console.png');
  mkdirSync(path.dirname(target), { recursive: true });
  const png = await page.screenshot({ path: target, fullPage: true });
  expect(png.subarray(1, 4).toString()).toBe('PNG');
});
