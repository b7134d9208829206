// The sessions console: the caller's Lean sessions (every user's for an admin), refreshed
// live, and the JSON-RPC traffic of one of them (WS /lean/sessions/{id}/trace).
// Everything a session or Lean says is put on the page as text (textContent), never as HTML.
(function () {
  'use strict';

  const config = JSON.parse(
    document.getElementById('jupyter-lean-console-config').textContent
  );
  const REFRESH_MS = 2000;
  const $ = id => document.getElementById(id);

  const state = {
    sessions: [],
    allUsers: false,
    watched: null, // {id, socket}
    attached: null, // {id, socket}: the console is this session's LSP client
    entries: [], // traced messages, oldest first
    started: new Map(), // "dir:id" -> time of a request, for request/response timing
    nextId: 1
  };

  // -- server --------------------------------------------------------------------------------

  function apiUrl(path, query) {
    const url = new URL(config.baseUrl + 'lean/' + path, window.location.href);
    for (const [key, value] of Object.entries(query || {})) {
      url.searchParams.set(key, value);
    }
    return url;
  }

  function wsUrl(path, query) {
    const url = apiUrl(path, query);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }

  function adminQuery(session) {
    return session && session.owner !== config.user ? { all: '1' } : {};
  }

  async function api(method, path, { body, query } = {}) {
    const response = await fetch(apiUrl(path, query), {
      method,
      credentials: 'same-origin',
      headers: { 'X-XSRFToken': config.xsrfToken, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    if (!response.ok) {
      let message = response.statusText || 'HTTP ' + response.status;
      try {
        const data = await response.json();
        if (data && typeof data.message === 'string') {
          message = data.message;
        }
      } catch (error) {
        // not JSON: keep the status text
      }
      throw new Error(message + ' (' + response.status + ')');
    }
    return response.status === 204 ? null : response.json();
  }

  function say(text) {
    $('jl-status').textContent = text || '';
  }

  // -- sessions table ------------------------------------------------------------------------

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    if (className) {
      td.className = className;
    }
    row.appendChild(td);
    return td;
  }

  function when(iso) {
    if (!iso) {
      return '';
    }
    const moment = new Date(iso);
    return isNaN(moment.getTime()) ? iso : moment.toLocaleString();
  }

  function mebibytes(bytes) {
    return typeof bytes === 'number' && bytes > 0 ? (bytes / 1048576).toFixed(1) + ' MiB' : '';
  }

  function button(label, onClick, title) {
    const element = document.createElement('button');
    element.type = 'button';
    element.textContent = label;
    if (title) {
      element.title = title;
    }
    element.addEventListener('click', onClick);
    return element;
  }

  function renderSessions() {
    const body = $('jl-sessions').querySelector('tbody');
    body.replaceChildren();
    for (const session of state.sessions) {
      const row = document.createElement('tr');
      row.dataset.session = session.id;
      if (state.watched && state.watched.id === session.id) {
        row.classList.add('jl-watched');
      }
      cell(row, session.id, 'jl-id');
      cell(row, session.owner);
      cell(row, session.project);
      cell(row, session.state, 'jl-state');
      cell(row, session.pid, 'jl-num');
      cell(row, mebibytes(session.memory), 'jl-num');
      cell(row, session.cpu_seconds, 'jl-num');
      cell(row, when(session.created));
      cell(row, when(session.last_activity));
      cell(row, session.connected ? 'yes' : 'no', 'jl-connected');
      cell(row, session.exit_reason, 'jl-reason');
      const actions = cell(row, '');
      const mine = session.owner === config.user;
      if (session.state !== 'exited') {
        actions.appendChild(button('Watch', () => watch(session), 'show its live traffic'));
        if (mine) {
          actions.appendChild(
            button('Attach', () => attach(session), 'become its client: send messages by hand')
          );
        }
      }
      if (mine || config.canEndAll) {
        actions.appendChild(button('End', () => end(session), 'stop its Lean server'));
      }
      body.appendChild(row);
    }
    $('jl-empty').hidden = state.sessions.length > 0;
  }

  async function refresh() {
    try {
      state.sessions = await api('GET', 'sessions', {
        query: state.allUsers ? { all: '1' } : {}
      });
      renderSessions();
      if ($('jl-status').dataset.fromRefresh) {
        say('');
        delete $('jl-status').dataset.fromRefresh;
      }
    } catch (error) {
      say('Cannot list sessions: ' + error.message);
      $('jl-status').dataset.fromRefresh = '1';
    }
  }

  async function loadProjects() {
    try {
      const projects = await api('GET', 'projects');
      const select = $('jl-project');
      select.replaceChildren();
      for (const project of projects) {
        const option = document.createElement('option');
        option.value = option.textContent = project.name;
        select.appendChild(option);
      }
    } catch (error) {
      say('Cannot list projects: ' + error.message);
    }
  }

  async function create() {
    try {
      const session = await api('POST', 'sessions', { body: { project: $('jl-project').value } });
      say('');
      await refresh();
      return session;
    } catch (error) {
      say('Cannot create a session: ' + error.message);
      return null;
    }
  }

  async function end(session) {
    const whose = session.owner === config.user ? '' : ' of ' + session.owner;
    if (!window.confirm('End Lean session ' + session.id + whose + '?')) {
      return;
    }
    try {
      await api('DELETE', 'sessions/' + encodeURIComponent(session.id), {
        query: adminQuery(session)
      });
      say('');
    } catch (error) {
      say('Cannot end the session: ' + error.message);
    }
    await refresh();
  }

  // -- traffic -------------------------------------------------------------------------------

  function closeSocket(holder) {
    if (holder && holder.socket.readyState <= WebSocket.OPEN) {
      holder.socket.close(1000, 'console closed it');
    }
  }

  function watch(session) {
    unwatch();
    const socket = new WebSocket(
      wsUrl('sessions/' + encodeURIComponent(session.id) + '/trace', adminQuery(session))
    );
    const watched = { id: session.id, socket };
    state.watched = watched;
    state.entries = [];
    state.started.clear();
    $('jl-messages').replaceChildren();
    $('jl-traffic').hidden = false;
    $('jl-traffic-title').textContent =
      'Traffic of session ' + session.id + (session.owner ? ' (' + session.owner + ')' : '');
    note('Watching: every message between the session and its client, as it happens.');
    socket.onmessage = event => {
      if (state.watched === watched) {
        onTrace(JSON.parse(event.data));
      }
    };
    socket.onclose = event => {
      if (state.watched === watched) {
        note('Not watching any more (' + event.code + (event.reason ? ': ' + event.reason : '') + ').');
      }
    };
    updateSendBox();
    renderSessions();
  }

  function unwatch() {
    closeSocket(state.watched);
    state.watched = null;
    detach();
    $('jl-traffic').hidden = true;
    renderSessions();
  }

  function attach(session) {
    if (
      session.connected &&
      !window.confirm(
        'A client is connected to this session (a notebook or editor): attaching replaces it. ' +
          'Attach anyway?'
      )
    ) {
      return;
    }
    if (!state.watched || state.watched.id !== session.id) {
      watch(session);
    }
    detach();
    const socket = new WebSocket(wsUrl('sessions/' + encodeURIComponent(session.id) + '/lsp'));
    const attached = { id: session.id, socket };
    state.attached = attached;
    // What Lean sends arrives on this socket too; the trace shows it, so it is not read here.
    socket.onopen = () => updateSendBox();
    socket.onclose = event => {
      if (state.attached === attached) {
        state.attached = null;
        updateSendBox('Detached (' + event.code + (event.reason ? ': ' + event.reason : '') + ').');
      }
    };
    if (!$('jl-send-text').value) {
      $('jl-send-text').value = JSON.stringify(
        { jsonrpc: '2.0', id: 'console-1', method: 'initialize', params: { capabilities: {} } },
        null,
        2
      );
    }
    updateSendBox();
  }

  function detach() {
    closeSocket(state.attached);
    state.attached = null;
    updateSendBox();
  }

  function updateSendBox(message) {
    const ready =
      state.attached !== null &&
      state.watched !== null &&
      state.attached.id === state.watched.id &&
      state.attached.socket.readyState === WebSocket.OPEN;
    $('jl-send').setAttribute('aria-disabled', ready ? 'false' : 'true');
    $('jl-send-button').disabled = !ready;
    $('jl-send-note').textContent =
      message ||
      (ready
        ? 'Attached: this console is the session\'s client.'
        : 'Attach (your own sessions) to send messages.');
  }

  function send(event) {
    event.preventDefault();
    if (!state.attached || state.attached.socket.readyState !== WebSocket.OPEN) {
      return;
    }
    const text = $('jl-send-text').value;
    try {
      JSON.parse(text);
    } catch (error) {
      updateSendBox('Not JSON: ' + error.message);
      return;
    }
    state.attached.socket.send(text);
    updateSendBox('Sent.');
  }

  function note(text) {
    $('jl-traffic-note').textContent = text;
  }

  function limit() {
    const value = parseInt($('jl-limit').value, 10);
    return isNaN(value) ? 200 : Math.min(10000, Math.max(10, value));
  }

  function kindOf(message) {
    if (!message || typeof message !== 'object') {
      return 'text';
    }
    if (typeof message.method === 'string') {
      return 'id' in message ? 'request' : 'notification';
    }
    return 'error' in message ? 'error' : 'response';
  }

  function onTrace(frame) {
    if (frame.event === 'watching') {
      return;
    }
    const entry = { frame, method: '', duration: null };
    if (frame.event === undefined) {
      const message = frame.message;
      const kind = kindOf(message);
      entry.kind = kind;
      if (kind === 'request') {
        entry.method = message.method;
        state.started.set(frame.dir + ':' + JSON.stringify(message.id), {
          t: frame.t,
          method: message.method
        });
      } else if (kind === 'notification') {
        entry.method = message.method;
      } else if (kind === 'response' || kind === 'error') {
        // A response goes the other way than its request.
        const requestDir = frame.dir === 'in' ? 'out' : 'in';
        const key = requestDir + ':' + JSON.stringify(message.id);
        const request = state.started.get(key);
        if (request) {
          state.started.delete(key);
          entry.duration = frame.t - request.t;
          entry.method = request.method;
        }
      }
    }
    state.entries.push(entry);
    const excess = state.entries.length - limit();
    if (excess > 0) {
      state.entries.splice(0, excess);
    }
    if (state.started.size > 10000) {
      state.started.clear(); // requests never answered
    }
    if (matches(entry)) {
      appendEntry(entry);
    }
    trimList();
  }

  function matches(entry) {
    const filter = $('jl-filter').value.trim().toLowerCase();
    return !filter || entry.method.toLowerCase().includes(filter);
  }

  function describe(entry) {
    const frame = entry.frame;
    const time = new Date(frame.t).toLocaleTimeString() + '.' +
      String(Math.floor(frame.t % 1000)).padStart(3, '0');
    if (frame.event !== undefined) {
      const details = Object.entries(frame)
        .filter(([key]) => !['seq', 't', 'event'].includes(key))
        .map(([key, value]) => key + ': ' + (typeof value === 'string' ? value : JSON.stringify(value)));
      return { time, arrow: '•', text: frame.event + (details.length ? ' (' + details.join(', ') + ')' : '') };
    }
    const arrow = frame.dir === 'in' ? '→ Lean' : '← Lean';
    if (frame.truncated !== undefined) {
      return { time, arrow, text: 'message of ' + frame.size + ' characters (shown in part)' };
    }
    const message = frame.message;
    const id = message && 'id' in message ? ' #' + JSON.stringify(message.id) : '';
    const method = entry.method || '';
    return { time, arrow, text: entry.kind + ' ' + method + id };
  }

  function appendEntry(entry) {
    const list = $('jl-messages');
    const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    const item = document.createElement('li');
    const frame = entry.frame;
    item.className = frame.event !== undefined ? 'jl-event' : 'jl-dir-' + frame.dir;
    if (entry.kind === 'error') {
      item.classList.add('jl-error-reply');
    }
    item.dataset.method = entry.method;
    item.dataset.kind = entry.kind || 'event';
    const shown = describe(entry);
    if (frame.event !== undefined) {
      item.textContent = shown.time + ' ' + shown.arrow + ' ' + shown.text;
    } else {
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      for (const [className, text] of [
        ['jl-time', shown.time],
        ['jl-arrow', shown.arrow],
        ['jl-method', shown.text],
        ['jl-duration', entry.duration === null ? '' : entry.duration.toFixed(1) + ' ms']
      ]) {
        const span = document.createElement('span');
        span.className = className;
        span.textContent = text + ' ';
        summary.appendChild(span);
      }
      const pre = document.createElement('pre');
      pre.textContent =
        frame.truncated !== undefined ? frame.truncated + '…' : JSON.stringify(frame.message, null, 2);
      details.append(summary, pre);
      item.appendChild(details);
    }
    list.appendChild(item);
    if (stick) {
      list.scrollTop = list.scrollHeight;
    }
  }

  function trimList() {
    const list = $('jl-messages');
    while (list.childElementCount > limit()) {
      list.firstElementChild.remove();
    }
  }

  function rerender() {
    $('jl-messages').replaceChildren();
    for (const entry of state.entries) {
      if (matches(entry)) {
        appendEntry(entry);
      }
    }
  }

  // -- start ---------------------------------------------------------------------------------

  $('jl-who').textContent = 'signed in as ' + config.user + (config.admin ? ' (admin)' : '');
  if (config.admin) {
    $('jl-all-label').hidden = false;
    $('jl-all').addEventListener('change', event => {
      state.allUsers = event.target.checked;
      refresh();
    });
  }
  $('jl-create').addEventListener('click', create);
  $('jl-unwatch').addEventListener('click', unwatch);
  $('jl-clear').addEventListener('click', () => {
    state.entries = [];
    $('jl-messages').replaceChildren();
  });
  $('jl-filter').addEventListener('input', rerender);
  $('jl-limit').addEventListener('change', () => {
    const excess = state.entries.length - limit();
    if (excess > 0) {
      state.entries.splice(0, excess);
    }
    rerender();
  });
  $('jl-send').addEventListener('submit', send);
  updateSendBox();
  loadProjects();
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
