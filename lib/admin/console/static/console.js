// keygate console: the "API key management" page. Plain browser JavaScript, no build step.
// Every value from the server is put on the page with textContent (never as HTML), and a
// generated key lives only in the dialog that shows it: never in storage, a cookie, the URL
// or the console log.
'use strict';

(() => {
  const PAGE_SIZE = 20;
  const EVENTS_PAGE_SIZE = 10;
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
  function timeCell(iso, none = 'never') {
    if (!iso) return document.createTextNode(none);
    const time = document.createElement('time');
    time.dateTime = iso;
    time.textContent = iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
    return time;
  }

  /** An ISO time as the value of a datetime-local field (local time, minutes). */
  function localInputValue(iso) {
    const at = new Date(iso);
    const pad = (n) => String(n).padStart(2, '0');
    return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
  }

  function statusOf(key) {
    if (key.status) return key.status;
    if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return 'expired';
    return 'active';
  }

  function button(label, accessibleName, className, onClick) {
    const element = document.createElement('button');
    element.type = 'button';
    element.className = className;
    element.textContent = label;
    element.setAttribute('aria-label', accessibleName);
    element.addEventListener('click', onClick);
    return element;
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

  /** The applications of the target (list-apps); a target without it gets the apps this browser opened recently. */
  function showPicker(functions) {
    $('picker').hidden = false;
    if (functions.includes('listApps')) void showApps();
    else showRecent();
    $('app-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const appUid = $('app-input').value.trim();
      if (appUid) location.assign(appPath(appUid));
    });
  }

  function showRecent() {
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
  }

  async function showApps() {
    $('apps').hidden = false;
    let appsToken;
    async function loadApps() {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (appsToken) query.set('nextToken', appsToken);
      const result = await api('GET', `/api/apps?${query}`);
      if (!result.ok) return showError(result.data.message);
      const rows = $('app-rows');
      for (const app of result.data.apps) {
        const row = document.createElement('tr');
        const name = document.createElement('td');
        const link = document.createElement('a');
        link.href = appPath(app.appUid);
        link.textContent = app.appUid;
        name.append(link);
        const count = document.createElement('td');
        count.textContent = String(app.keyCount);
        const created = document.createElement('td');
        created.append(timeCell(app.createdAt));
        row.append(name, count, created);
        rows.append(row);
      }
      appsToken = result.data.nextToken;
      $('more-apps').hidden = !appsToken;
      $('apps-table').hidden = rows.children.length === 0;
      $('no-apps').hidden = rows.children.length !== 0;
    }
    $('more-apps').addEventListener('click', () => void loadApps());
    await loadApps();
  }

  // ---- one app's keys ----

  /** `functions`: the admin functions the target has; the key lifecycle ones may be missing on an older stack. */
  function showKeys(appUid, functions) {
    const can = (fn) => functions.includes(fn);
    const lifecycle = can('updateKey');
    $('keys').hidden = false;
    $('app-name').textContent = appUid;
    document.title = `${appUid} · API key management · keygate`;
    remember(appUid);
    for (const cell of document.querySelectorAll('.lifecycle')) cell.hidden = !lifecycle;
    $('activity').hidden = !can('listKeyEvents');

    const base = `/api/apps/${encodeURIComponent(appUid)}/keys`;
    const keyPath = (key) => `${base}/${encodeURIComponent(key.keyId)}`;
    // tokens[i] is the nextToken that opens page i (page 0 needs none).
    let tokens = [undefined];
    let page = 0;
    // The app as the registry has it (get-app), or null: not registered, or a target without get-app.
    let registered = null;
    let firstPageEmpty = false;

    async function loadApp() {
      if (!can('getApp')) return;
      const result = await api('GET', `/api/apps/${encodeURIComponent(appUid)}`);
      if (!result.ok && result.data.errorType !== 'AppNotFound') return showError(result.data.message);
      registered = result.ok ? result.data : null;
      $('app-meta').textContent = registered ? `${registered.keyCount} ${registered.keyCount === 1 ? 'key' : 'keys'} · first key ${registered.createdAt.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC')}` : '';
      $('app-meta').hidden = !registered;
    }

    /**
     * An app with no keys that the registry does not know is new, or a typo:
     * its first key takes an explicit confirmation (the CLI's --new-app).
     */
    function setNewApp(isNew) {
      $('new-app').hidden = !isNew;
      $('new-app-confirm').hidden = !isNew;
      $('new-app-check').required = isNew;
      if (!isNew) $('new-app-check').checked = false;
      $('create-button').textContent = isNew ? 'Start application and generate key' : 'Generate key';
    }

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
      if (page === 0) firstPageEmpty = result.data.keys.length === 0;
      tokens = tokens.slice(0, page + 1);
      if (result.data.nextToken) tokens.push(result.data.nextToken);
      $('prev-page').disabled = page === 0;
      $('next-page').disabled = tokens.length <= page + 1;
      $('pager').hidden = page === 0 && tokens.length === 1;
      $('page-info').textContent = `Page ${page + 1}`;
    }

    /** After a change: the app, its keys and the activity log as they are now. */
    async function refresh() {
      await Promise.all([loadApp(), load(), can('listKeyEvents') ? loadEvents(true) : undefined]);
      setNewApp(registered === null && page === 0 && firstPageEmpty);
    }

    const labelOf = (key) => `key ${key.name} (${key.keyId})`;

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
        if (lifecycle) cell(timeCell(key.lastUsedAt), 'last-used');
        const status = statusOf(key);
        cell(status, `state state-${status}`);
        const actions = document.createElement('div');
        actions.className = 'row-actions';
        const named = labelOf(key);
        if (can('rollKey')) actions.append(button('Roll', `Roll ${named}`, 'small secondary', () => openRoll(key)));
        if (lifecycle) {
          actions.append(button('Edit', `Edit ${named}`, 'small secondary', () => openEdit(key)));
          const enabled = key.enabled !== false;
          actions.append(button(enabled ? 'Disable' : 'Enable', `${enabled ? 'Disable' : 'Enable'} ${named}`, 'small secondary', () => setEnabled(key, !enabled)));
        }
        actions.append(button('Delete', `Delete ${named}`, 'danger small', () => confirmDelete(key)));
        cell(actions);
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

    // ---- dialogs: focus goes back to what opened them ----

    // Per dialog: the row button (by its accessible name: rows are redrawn after a change) or field to return to.
    const returnTo = new Map();

    function openDialog(id, focusId, back) {
      returnTo.set(id, back);
      $(id).showModal();
      $(focusId).focus();
    }

    /** Where focus goes for the row button named `label`, or the field `id`. */
    const rowButton = (label) => ({ label });
    const field = (id) => ({ id });

    for (const dialog of document.querySelectorAll('dialog')) {
      dialog.addEventListener('close', () => {
        const back = returnTo.get(dialog.id) || {};
        returnTo.delete(dialog.id);
        // Another dialog took over (a roll shows the new key): that one returns focus.
        if (document.querySelector('dialog[open]')) return;
        const target =
          (back.label && [...document.querySelectorAll('#key-rows button')].find((b) => b.getAttribute('aria-label') === back.label)) ||
          (back.id && $(back.id)) ||
          $('keys-title');
        target.focus();
      });
    }

    // ---- generate ----

    $('create-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      clearError();
      const name = $('key-name').value;
      const expires = $('key-expires').value;
      const body = { name };
      if (!$('new-app-confirm').hidden && $('new-app-check').checked) body.newApp = true;
      if (expires) {
        const at = new Date(expires);
        if (Number.isNaN(at.getTime())) return showError('Expires is not a valid date and time');
        body.expiresAt = at.toISOString();
      }
      const create = $('create-button');
      create.disabled = true;
      const result = await api('POST', base, body);
      create.disabled = false;
      if (!result.ok) {
        // The console refused an app it does not know: ask for the confirmation.
        if (result.data.errorType === 'AppNotFound') setNewApp(true);
        return showError(result.data.message);
      }
      $('create-form').reset();
      showNewKey(result.data, 'Key generated', '', field('key-name'));
      void refresh();
    });

    // ---- a new key, shown once ----

    function showNewKey(created, title, note, back) {
      const keyField = $('created-key');
      keyField.value = created.apiKey;
      $('created-title').textContent = title;
      $('created-meta').textContent = `${created.name} · ${created.displayPrefix} · ${created.keyId}`;
      $('created-note').textContent = note;
      $('created-note').hidden = !note;
      $('copy-status').textContent = '';
      openDialog('created-dialog', 'created-key', back);
      keyField.select();
    }

    $('copy-button').addEventListener('click', async () => {
      const keyField = $('created-key');
      try {
        await navigator.clipboard.writeText(keyField.value);
        $('copy-status').textContent = 'Copied to the clipboard.';
      } catch {
        keyField.focus();
        keyField.select();
        $('copy-status').textContent = 'The browser did not allow copying: the key is selected, press Ctrl+C (⌘C).';
      }
    });
    $('created-done').addEventListener('click', () => $('created-dialog').close());
    $('created-dialog').addEventListener('close', () => {
      // The key leaves the page with the dialog.
      $('created-key').value = '';
      $('created-meta').textContent = '';
      say('The new key is not shown again.');
    });

    // ---- roll ----

    let rolling = null;

    function openRoll(key) {
      rolling = key;
      $('roll-name-label').textContent = `“${key.name}”`;
      $('roll-meta').textContent = `${key.displayPrefix} · ${key.keyId}`;
      $('roll-form').reset();
      $('roll-new-name').placeholder = key.name;
      openDialog('roll-dialog', 'roll-grace', rowButton(`Roll ${labelOf(key)}`));
    }

    $('roll-cancel').addEventListener('click', () => $('roll-dialog').close());
    $('roll-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!rolling) return;
      const key = rolling;
      clearError();
      const body = { gracePeriodSeconds: Number($('roll-grace').value) };
      const name = $('roll-new-name').value.trim();
      if (name) body.name = name;
      const result = await api('POST', `${keyPath(key)}/roll`, body);
      $('roll-dialog').close();
      rolling = null;
      if (!result.ok) return showError(result.data.message);
      const until = result.data.previousKeyExpiresAt.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
      showNewKey(result.data, 'Key rolled', `The old key ${key.keyId} is refused from ${until}. Sessions are not affected.`, rowButton(`Roll ${labelOf(key)}`));
      void refresh();
    });

    // ---- edit: name and expiry ----

    let editing = null;

    function openEdit(key) {
      editing = key;
      $('edit-meta').textContent = `${key.displayPrefix} · ${key.keyId}`;
      $('edit-name').value = key.name;
      $('edit-expires').value = key.expiresAt ? localInputValue(key.expiresAt) : '';
      $('edit-never').checked = !key.expiresAt;
      $('edit-expires').disabled = !key.expiresAt;
      openDialog('edit-dialog', 'edit-name', rowButton(`Edit ${labelOf(key)}`));
    }

    $('edit-never').addEventListener('change', () => {
      $('edit-expires').disabled = $('edit-never').checked;
    });
    $('edit-cancel').addEventListener('click', () => $('edit-dialog').close());
    $('edit-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!editing) return;
      const key = editing;
      clearError();
      // Only what changed: update-key records each change in the activity log.
      const body = {};
      const name = $('edit-name').value;
      if (name !== key.name) body.name = name;
      if ($('edit-never').checked) {
        if (key.expiresAt) body.expiresAt = null;
      } else {
        const at = new Date($('edit-expires').value);
        if (Number.isNaN(at.getTime())) return showError('Expires is not a valid date and time');
        if (!key.expiresAt || localInputValue(key.expiresAt) !== $('edit-expires').value) body.expiresAt = at.toISOString();
      }
      $('edit-dialog').close();
      editing = null;
      if (Object.keys(body).length === 0) return say(`Nothing changed for key ${key.name}.`);
      const result = await api('PATCH', keyPath(key), body);
      if (!result.ok) return showError(result.data.message);
      say(`Saved key ${result.data.name} (${key.keyId}).`);
      await refresh();
    });

    // ---- disable / enable ----

    async function setEnabled(key, enabled) {
      clearError();
      const result = await api('PATCH', keyPath(key), { enabled });
      if (!result.ok) return showError(result.data.message);
      say(
        enabled
          ? `Enabled key ${key.name} (${key.keyId}): requests with it are accepted again.`
          : `Disabled key ${key.name} (${key.keyId}): requests with it are refused until you enable it. Sessions are not affected.`,
      );
      await refresh();
    }

    // ---- delete, with a confirmation naming the key ----

    let pendingDelete = null;

    function confirmDelete(key) {
      pendingDelete = key;
      $('delete-name').textContent = `“${key.name}”`;
      $('delete-meta').textContent = `${key.displayPrefix} · ${key.keyId}`;
      openDialog('delete-dialog', 'delete-cancel', rowButton(`Delete ${labelOf(key)}`));
    }

    $('delete-cancel').addEventListener('click', () => $('delete-dialog').close());
    $('delete-confirm').addEventListener('click', async () => {
      if (!pendingDelete) return;
      const key = pendingDelete;
      clearError();
      const result = await api('DELETE', keyPath(key));
      $('delete-dialog').close();
      pendingDelete = null;
      if (!result.ok) return showError(result.data.message);
      say(`Deleted key ${key.name} (${key.keyId}). Requests with it are refused from now on.`);
      await refresh();
    });

    // ---- activity log ----

    let eventsToken;

    /** What changed, as text: `name: old → new`, `gracePeriodSeconds: 0`. */
    function detailsText(details) {
      if (!details) return '';
      return Object.entries(details)
        .map(([field, value]) => {
          if (value && typeof value === 'object' && ('from' in value || 'to' in value)) return `${field}: ${value.from ?? '—'} → ${value.to ?? '—'}`;
          return `${field}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`;
        })
        .join('; ');
    }

    async function loadEvents(first) {
      const query = new URLSearchParams({ limit: String(EVENTS_PAGE_SIZE) });
      if (!first && eventsToken) query.set('nextToken', eventsToken);
      const result = await api('GET', `/api/apps/${encodeURIComponent(appUid)}/events?${query}`);
      if (!result.ok) return showError(result.data.message);
      const rows = $('event-rows');
      if (first) rows.replaceChildren();
      for (const event of result.data.events) {
        const row = document.createElement('tr');
        for (const content of [timeCell(event.at), event.action, event.keyId || '—', event.requestedBy || '—', detailsText(event.details)]) {
          const td = document.createElement('td');
          if (typeof content === 'string') td.textContent = content;
          else td.append(content);
          row.append(td);
        }
        rows.append(row);
      }
      eventsToken = result.data.nextToken;
      $('more-events').hidden = !eventsToken;
      $('no-events').hidden = rows.children.length !== 0;
      $('event-table').hidden = rows.children.length === 0;
    }

    $('more-events').addEventListener('click', () => void loadEvents(false));

    void refresh();
  }

  async function start() {
    const info = await api('GET', '/api/info');
    if (info.ok) $('target').textContent = `Managing ${info.data.target}`;
    if (info.ok && info.data.problem) showError(info.data.problem);
    const match = /^\/apps\/([^/]+)\/keys$/.exec(location.pathname);
    const functions = info.ok ? info.data.functions : [];
    if (!match) return showPicker(functions);
    let appUid;
    try {
      appUid = decodeURIComponent(match[1]);
    } catch {
      return showPicker(functions);
    }
    $('new-app-name').textContent = appUid;
    $('new-app-label').textContent = appUid;
    showKeys(appUid, functions);
  }

  void start();
})();
