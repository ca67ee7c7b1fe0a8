// The simulator page: follows the simulator's event stream and sends what the
// person does as commands.  See relaysync/simulator/ui/server.py for the protocol.

import {DeviceCard} from './device.js';
import {el, keyed, setText} from './dom.js';

const params = new URLSearchParams(window.location.search);
const $ = (id) => document.getElementById(id);
const NEEDS_INPUT = new Set(['listen', 'call', 'alert', 'buttons', 'subscription']);
const MAX_LINES = 4000;

const page = {
  still: params.has('still'),     // no animation: for screenshots
  session: null,
  state: null,
  connected: false,
  sound: false,
  cards: new Map(),
  animating: false,

  async command(action, args = {}) {
    if (!this.connected) {
      this.notice('not connected to the simulator: wait for it to come back');
      return {ok: false};
    }
    let data;
    try {
      const response = await fetch('api/command', {
        method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({action, ...args}),
      });
      data = await response.json();
    } catch (error) {
      data = {ok: false, error: `the simulator did not answer (${error.message})`};
    }
    if (!data.ok) this.notice(data.error);
    else this.notice('');
    return data;
  },

  notice(text) {
    const box = $('notice');
    setText(box, text || '');
    box.hidden = !text;
  },

  soundOn() { return this.sound; },

  speak(text) {
    if (!('speechSynthesis' in window)) return;
    window.speechSynthesis.speak(new SpeechSynthesisUtterance(text));
  },

  animate() {
    if (this.animating || this.still) return;
    this.animating = true;
    const step = (now) => {
      let busy = false;
      for (const card of this.cards.values()) busy = card.drawLeds(now) || busy;
      if (busy) requestAnimationFrame(step);
      else this.animating = false;
    };
    requestAnimationFrame(step);
  },
};

// ------------------------------------------------------------- connection
function setStatus(text, kind) {
  const status = $('status');
  setText(status, text);
  status.dataset.kind = kind;
  document.body.classList.toggle('offline', kind !== 'live');
}

let source = null;

function connect() {
  source = new EventSource('api/events');
  const on = (name, handler) => source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  on('reset', (data) => {
    page.session = data.session;
    page.connected = true;
    setStatus('Connected', 'live');
    setText($('title'), data.title);
    document.title = `${data.title} · relaysync simulator`;
    $('transcript').replaceChildren();
  });
  on('entries', (entries) => entries.forEach(addEntry));
  on('entry', addEntry);
  on('messages', (messages) => messages.forEach(addMessage));
  on('state', render);
  on('bye', () => {
    page.connected = false;
    setStatus('The simulator stopped: this page reconnects when it runs again', 'gone');
  });
  source.onerror = () => {
    page.connected = false;
    if ($('status').dataset.kind !== 'gone') setStatus('Reconnecting to the simulator…', 'connecting');
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      setTimeout(connect, 1000);
    }
  };
}

// ------------------------------------------------------------- transcript
// The transcript follows the newest line unless the person scrolled up to read.
let following = true;

function scrolledDown(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
}

function follow() {
  const list = $('transcript');
  if (following) list.scrollTop = list.scrollHeight;
}

function append(li) {
  const list = $('transcript');
  list.append(li);
  while (list.children.length > MAX_LINES) list.firstElementChild.remove();
  follow();
}

function addEntry(e) {
  const tag = e.side === 'workflow' ? 'request' : e.kind;
  const li = el('li', {class: `entry side-${e.side} kind-${e.kind.replace(/\W/g, '_')}${e.error ? ' error' : ''}`,
    'data-run': e.run},
    el('span', {class: 'time'}, e.time.toFixed(3)),
    el('span', {class: 'who'}, e.who),
    el('span', {class: 'tag'}, e.error ? `${tag} ✖` : tag),
    el('span', {class: 'text'}, e.text));
  append(li);
}

function addMessage(m) {
  const toWorkflow = m.way === 'sent';
  const li = el('li', {class: `wire way-${m.way}`, 'data-run': m.run},
    el('span', {class: 'time'}, m.time.toFixed(3)),
    el('span', {class: 'who'}, `run ${m.run}`),
    el('span', {class: 'tag'}, toWorkflow ? 'to workflow' : 'from workflow'),
    el('code', {class: 'text'}, m.json));
  append(li);
}

function applyFilters() {
  const body = document.body.classList;
  body.toggle('hide-requests', !$('show-requests').checked);
  body.toggle('hide-events', !$('show-events').checked);
  body.toggle('show-wire', $('show-wire').checked);
}

// ------------------------------------------------------------------ state
function render(state) {
  page.state = state;
  const held = state.controls.hold;
  $('hold').hidden = !held;
  $('quit').hidden = !state.controls.quit;
  const waiting = new Map();
  for (const run of state.runs) {
    if (run.done) continue;
    for (const f of run.findings) {
      if (!NEEDS_INPUT.has(f.kind)) continue;
      for (const name of f.devices) {
        if (!waiting.has(name)) waiting.set(name, []);
        waiting.get(name).push(f);
      }
    }
  }
  const names = state.devices.map((d) => d.name);
  keyed($('devices'), state.devices, (d) => d.name, (d) => {
    const card = new DeviceCard(d.name, page);
    page.cards.set(d.name, card);
    card.el.card = card;
    return card.el;
  }, (node, d) => node.card.update(d, waiting.get(d.name) || []));
  for (const name of Array.from(page.cards.keys())) if (!names.includes(name)) page.cards.delete(name);
  renderRuns(state);
  renderAccount(state, names);
}

function renderRuns(state) {
  const runs = state.runs.slice().reverse();
  $('runs-empty').hidden = runs.length > 0;
  keyed($('runs'), runs, (r) => String(r.number), (r) => {
    const stop = el('button', {type: 'button', 'aria-label': `stop run ${r.number}`}, 'Stop');
    stop.addEventListener('click', () => page.command('stop', {run: r.number}));
    return el('li', {class: 'run'},
      el('div', {class: 'run-head'}, el('strong', {}, `Run ${r.number}`), el('span', {class: 'summary'}), stop),
      el('ul', {class: 'findings'}), el('ul', {class: 'errors'}), el('div', {class: 'crashes'}),
      el('dl', {class: 'vars'}));
  }, (li, r) => {
    li.className = `run ${r.done ? 'done' : 'live'} outcome-${r.outcome}`;
    const args = Object.entries(r.trigger.args || {}).filter(([k]) => k !== 'source_uri')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    setText(li.querySelector('.summary'),
      `${r.device} · ${r.trigger.type}${args ? ` ${args}` : ''} · ${r.outcome} · ${r.requests} requests`);
    li.querySelector('button').hidden = r.done;
    keyed(li.querySelector('.findings'), r.findings, (f) => `${f.kind}:${f.text}`,
      () => el('li', {}), (node, f) => {
        node.className = `finding kind-${f.kind}${f.kind.startsWith('unknown') ? ' error' : ''}`;
        setText(node, `${f.kind.startsWith('unknown') ? 'Refused' : 'Waiting for'}: ${f.text}${f.hint ? ` (${f.hint})` : ''}`);
      });
    keyed(li.querySelector('.errors'), r.errors.map((text, i) => ({text, i})), (x) => String(x.i),
      () => el('li', {class: 'error'}), (node, x) => setText(node, `refused: ${x.text}`));
    keyed(li.querySelector('.crashes'), r.crashes.map((text, i) => ({text, i})), (x) => String(x.i),
      () => el('details', {class: 'crash error'}, el('summary', {}), el('pre', {})), (node, x) => {
        const lines = x.text.trim().split('\n');
        setText(node.querySelector('summary'), `handler raised: ${lines[lines.length - 1]}`);
        setText(node.querySelector('pre'), x.text);
      });
    const vars = Object.entries(r.vars);
    keyed(li.querySelector('.vars'), vars, ([k]) => k, () => el('div', {}, el('dt', {}), el('dd', {})),
      (node, [k, v]) => { setText(node.firstChild, k); setText(node.lastChild, v); });
  });
}

function fillSelect(select, values, labels = values) {
  const current = select.value;
  keyed(select, values.map((v, i) => ({v, label: labels[i]})), (o) => o.v,
    (o) => el('option', {value: o.v}), (node, o) => setText(node, o.label));
  if (values.includes(current)) select.value = current;
}

function renderAccount(state, names) {
  fillSelect($('trigger-device'), names);
  const type = $('trigger-type');
  const before = type.value;
  fillSelect(type, state.trigger_types);
  if (!before) showTriggerDefaults();
  fillSelect($('new-device-type'), state.device_types);

  keyed($('vars'), Object.entries(state.start_vars), ([k]) => k, ([k]) => {
    const remove = el('button', {type: 'button', 'aria-label': `remove variable ${k}`}, 'Remove');
    remove.addEventListener('click', () => page.command('unset_var', {name: k}));
    return el('li', {}, el('code', {}), remove);
  }, (node, [k, v]) => setText(node.firstChild, `${k} = ${v}`));
  $('vars-empty').hidden = Object.keys(state.start_vars).length > 0;

  keyed($('device-list'), state.devices, (d) => d.name, (d) => {
    const remove = el('button', {type: 'button', 'aria-label': `remove device ${d.name}`}, 'Remove');
    remove.addEventListener('click', () => page.command('remove_device', {device: d.name}));
    return el('li', {}, el('span', {}), remove);
  }, (node, d) => setText(node.firstChild, `${d.name} (${d.type})`));

  keyed($('groups'), state.groups, (g) => g.name, (g) => {
    const remove = el('button', {type: 'button', 'aria-label': `remove group ${g.name}`}, 'Remove');
    remove.addEventListener('click', () => page.command('remove_group', {name: g.name}));
    return el('li', {}, el('span', {}), remove);
  }, (node, g) => setText(node.firstChild, `${g.name}: ${g.members.join(', ') || 'no members'}`));
  $('groups-empty').hidden = state.groups.length > 0;

  keyed($('new-group-members'), names, (n) => n, (n) => {
    const id = `member-${n.replace(/\W/g, '_')}`;
    return el('span', {class: 'check'}, el('input', {type: 'checkbox', id, value: n}), el('label', {for: id}, n));
  }, () => {});

  $('incidents-panel').hidden = state.incidents.length === 0;
  keyed($('incidents'), state.incidents, (i) => i.id, (i) => {
    const resolve = el('button', {type: 'button', 'aria-label': `resolve incident ${i.id}`}, 'Resolve');
    resolve.addEventListener('click', () => page.command('resolve_incident', {id: i.id}));
    return el('li', {}, el('span', {}), resolve);
  }, (node, i) => {
    setText(node.firstChild, `${i.id} (${i.type}) for ${i.originator}: ${i.state}${i.reason ? ` – ${i.reason}` : ''}`);
    node.lastChild.hidden = i.state !== 'open';
  });
}

function showTriggerDefaults() {
  const state = page.state;
  if (!state) return;
  const defaults = state.trigger_defaults[$('trigger-type').value] || {};
  $('trigger-args').value = JSON.stringify(defaults);
}

// -------------------------------------------------------------- controls
function wire() {
  $('sound').addEventListener('click', () => {
    page.sound = !page.sound;
    $('sound').setAttribute('aria-pressed', String(page.sound));
    setText($('sound'), page.sound ? 'Sound on' : 'Sound off');
    if (!page.sound && 'speechSynthesis' in window) window.speechSynthesis.cancel();
  });
  if (!('speechSynthesis' in window)) $('sound').hidden = true;
  $('restart').addEventListener('click', () => page.command('restart'));
  $('quit').addEventListener('click', () => page.command('quit'));
  $('release').addEventListener('click', () => page.command('release'));
  for (const id of ['show-requests', 'show-events', 'show-wire']) {
    $(id).addEventListener('change', () => { applyFilters(); follow(); });
  }
  const list = $('transcript');
  list.addEventListener('scroll', () => { following = scrolledDown(list); });
  new ResizeObserver(follow).observe(list);
  applyFilters();
  $('trigger-type').addEventListener('change', showTriggerDefaults);
  $('trigger-form').addEventListener('submit', (event) => {
    event.preventDefault();
    let args;
    try {
      args = JSON.parse($('trigger-args').value || '{}');
    } catch (error) {
      page.notice(`trigger args: not JSON (${error.message})`);
      return;
    }
    page.command('trigger', {device: $('trigger-device').value, type: $('trigger-type').value, args});
  });
  $('var-form').addEventListener('submit', (event) => {
    event.preventDefault();
    page.command('set_var', {name: $('var-name').value, value: $('var-value').value})
      .then((r) => { if (r.ok) { $('var-name').value = ''; $('var-value').value = ''; } });
  });
  $('device-form').addEventListener('submit', (event) => {
    event.preventDefault();
    page.command('add_device', {name: $('new-device-name').value, type: $('new-device-type').value})
      .then((r) => { if (r.ok) $('new-device-name').value = ''; });
  });
  $('group-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const members = Array.from($('new-group-members').querySelectorAll('input:checked')).map((i) => i.value);
    page.command('add_group', {name: $('new-group-name').value, members})
      .then((r) => {
        if (r.ok) {
          $('new-group-name').value = '';
          $('new-group-members').querySelectorAll('input').forEach((i) => { i.checked = false; });
        }
      });
  });
}

wire();
setStatus('Connecting to the simulator…', 'connecting');
connect();
