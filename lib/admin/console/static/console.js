// keygate console: the "API key management" page. Plain browser JavaScript, no build step.
// Every value from the server is put on the page with textContent (never as HTML), and a
// generated key lives only in the dialog that shows it: never in storage, a cookie, the URL
// or the console log.
'use strict';

(() => {
  const PAGE_SIZE = 20;
  const RECENT_KEY = 'keygate.console.recentApps';
  const RECENT_MAX = 8;

  const $ = (id) => document.getElementById(id);

  /** Calls the console server; resolves to { ok, status, data }. */
  async function api(method, path, body) {
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'same-origin',
      });
    } catch {
      return { ok: false, status: 0, data: { message: 'the console server is not answering; is `keygate console` still running?' } };
    }
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = { message: `the console answered ${response.status}` };
    }
    return { ok: response.ok, status: response.status, data };
  }

  function showError(message) {
    const box = $('error');
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    const box = $('error');
    box.textContent = '';
    box.hidden = true;
  }

  function say(message) {
    $('status').textContent = message;
  }

  /** `2026-05-01T10:00:00.000Z` as a <time> showing `2026-05-01 10:00 UTC`. */
  function timeCell(iso) {
    if (!iso) return document.createTextNode('never');
    const time = document.createElement('time');
    time.dateTime = iso;
    time.textContent = iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
    return time;
  }

  function statusOf(key) {
    if (key.status) return key.status;
    if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return 'expired';
    return 'active';
  }

  // ---- recent apps (app ids only; they are not secrets) ----

  function recentApps() {
    try {
      const list = JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
      return Array.isArray(list) ? list.filter((app) => typeof app === 'string') : [];
    } catch {
      return [];
    }
  }

  function remember(appUid) {
    try {
      const list = [appUid, ...recentApps().filter((app) => app !== appUid)].slice(0, RECENT_MAX);
      localStorage.setItem(RECENT_KEY, JSON.stringify(list));
    } catch {
      // Storage may be off; the page works without it.
    }
  }

  const appPath = (appUid) => `/apps/${encodeURIComponent(appUid)}/keys`;

  function showPicker() {
    $('picker').hidden = false;
    const apps = recentApps();
    const list = $('recent-list');
    list.replaceChildren();
    for (const appUid of apps) {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = appPath(appUid);
      link.textContent = appUid;
      item.append(link);
      list.append(item);
    }
    $('recent').hidden = apps.length === 0;
    $('app-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const appUid = $('app-input').value.trim();
      if (appUid) location.assign(appPath(appUid));
    });
  }

  // ---- one app's keys ----

  function showKeys(appUid) {
    const section = $('keys');
    section.hidden = false;
    $('app-name').textContent = appUid;
    document.title = `${appUid} · API key management · keygate`;
    remember(appUid);

    const base = `/api/apps/${encodeURIComponent(appUid)}/keys`;
    // tokens[i] is the nextToken that opens page i (page 0 needs none).
    let tokens = [undefined];
    let page = 0;

    async function load() {
      const token = tokens[page];
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (token) query.set('nextToken', token);
      const result = await api('GET', `${base}?${query}`);
      if (!result.ok) {
        showError(result.data.message);
        return;
      }
      render(result.data.keys);
      tokens = tokens.slice(0, page + 1);
      if (result.data.nextToken) tokens.push(result.data.nextToken);
      $('prev-page').disabled = page === 0;
      $('next-page').disabled = tokens.length <= page + 1;
      $('pager').hidden = page === 0 && tokens.length === 1;
      $('page-info').textContent = `Page ${page + 1}`;
    }

    function render(keys) {
      const rows = $('key-rows');
      rows.replaceChildren();
      for (const key of keys) {
        const row = document.createElement('tr');
        row.dataset.keyId = key.keyId;
        const cell = (content, className) => {
          const td = document.createElement('td');
          if (className) td.className = className;
          if (typeof content === 'string') td.textContent = content;
          else td.append(content);
          row.append(td);
          return td;
        };
        cell(key.name, 'name');
        cell(key.displayPrefix, 'mono');
        cell(key.keyId, 'mono');
        cell(timeCell(key.createdAt));
        cell(timeCell(key.expiresAt));
        const status = statusOf(key);
        cell(status, `state state-${status}`);
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'danger small';
        remove.textContent = 'Delete';
        remove.setAttribute('aria-label', `Delete key ${key.name} (${key.keyId})`);
        remove.addEventListener('click', () => confirmDelete(key, remove));
        cell(remove);
        rows.append(row);
      }
      $('key-table').hidden = keys.length === 0;
      $('empty').hidden = keys.length !== 0 || page !== 0;
    }

    $('prev-page').addEventListener('click', () => {
      if (page > 0) page -= 1;
      void load();
    });
    $('next-page').addEventListener('click', () => {
      if (tokens.length > page + 1) page += 1;
      void load();
    });

    $('create-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      clearError();
      const name = $('key-name').value;
      const expires = $('key-expires').value;
      const body = { name };
      if (expires) {
        const at = new Date(expires);
        if (Number.isNaN(at.getTime())) return showError('Expires is not a valid date and time');
        body.expiresAt = at.toISOString();
      }
      const button = $('create-button');
      button.disabled = true;
      const result = await api('POST', base, body);
      button.disabled = false;
      if (!result.ok) return showError(result.data.message);
      $('create-form').reset();
      showCreated(result.data);
      void load();
    });

    // ---- the generated key, shown once ----

    function showCreated(created) {
      const dialog = $('created-dialog');
      const field = $('created-key');
      field.value = created.apiKey;
      $('created-meta').textContent = `${created.name} · ${created.displayPrefix} · ${created.keyId}`;
      $('copy-status').textContent = '';
      dialog.showModal();
      field.focus();
      field.select();
    }

    $('copy-button').addEventListener('click', async () => {
      const field = $('created-key');
      try {
        await navigator.clipboard.writeText(field.value);
        $('copy-status').textContent = 'Copied to the clipboard.';
      } catch {
        field.focus();
        field.select();
        $('copy-status').textContent = 'The browser did not allow copying: the key is selected, press Ctrl+C (⌘C).';
      }
    });
    $('created-done').addEventListener('click', () => $('created-dialog').close());
    $('created-dialog').addEventListener('close', () => {
      // The key leaves the page with the dialog.
      $('created-key').value = '';
      $('created-meta').textContent = '';
      say('Key generated. It is not shown again.');
      $('key-name').focus();
    });

    // ---- delete, with a confirmation naming the key ----

    let pendingDelete = null;

    function confirmDelete(key, opener) {
      pendingDelete = { key, opener };
      $('delete-name').textContent = `“${key.name}”`;
      $('delete-meta').textContent = `${key.displayPrefix} · ${key.keyId}`;
      $('delete-dialog').showModal();
      $('delete-cancel').focus();
    }

    $('delete-cancel').addEventListener('click', () => $('delete-dialog').close('cancel'));
    $('delete-confirm').addEventListener('click', async () => {
      if (!pendingDelete) return;
      const { key } = pendingDelete;
      clearError();
      const result = await api('DELETE', `${base}/${encodeURIComponent(key.keyId)}`);
      $('delete-dialog').close('done');
      if (!result.ok) return showError(result.data.message);
      say(`Deleted key ${key.name} (${key.keyId}). Requests with it are refused from now on.`);
      await load();
    });
    $('delete-dialog').addEventListener('close', () => {
      const opener = pendingDelete && pendingDelete.opener;
      pendingDelete = null;
      // The row (and its button) may be gone after a delete: fall back to the status line's section.
      if (opener && opener.isConnected) opener.focus();
      else $('keys-title').focus();
    });

    void load();
  }

  async function start() {
    const info = await api('GET', '/api/info');
    if (info.ok) $('target').textContent = `Managing ${info.data.target}`;
    const match = /^\/apps\/([^/]+)\/keys$/.exec(location.pathname);
    if (!match) return showPicker();
    let appUid;
    try {
      appUid = decodeURIComponent(match[1]);
    } catch {
      return showPicker();
    }
    showKeys(appUid);
  }

  void start();
})();
