// One virtual device on the page: its drawing (LED ring, talk button), what it
// says and hears, and the controls a person holding it has.

import {LED_COUNT, describe, effectLength, frame, stillTime} from './leds.js';
import {el, keyed, setText} from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const TAP_GAP = 350;      // ms between taps of a double or triple tap
const LONG_PRESS = 650;   // ms held for a long press
const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
// What the person holding the device can do about what the workflow waits for.
const CARD_HINTS = {
  listen: 'type the answer below and press Say',
  alert: 'press Acknowledge below',
  call: 'press Answer below (or Decline)',
  buttons: 'press Talk, or one of the presses below',
  subscription: 'send the event under Device events below',
};
// The events a device can make for a workflow subscribed to them: the
// subscription's event_type, what the card calls it, and its form's fields.
const DEVICE_EVENTS = [
  {event: 'nfc_tap', type: 'nfc_tap', title: 'NFC tap', button: 'Tap', verb: 'tap an NFC tag'},
  {event: 'position', type: 'indoor_position', title: 'Indoor position', button: 'Send', verb: 'send an indoor position'},
  {event: 'geofence', type: 'outdoor_position', title: 'Geofence', button: 'Send', verb: 'cross a geofence'},
  {event: 'http_post', type: 'http_post', title: 'HTTP POST', button: 'Post', verb: 'send an HTTP POST'},
];

// Turns presses of one on-screen button (mouse, touch or keyboard) into
// single / double / triple taps and long presses, like the device's buttons.
class TapButton {
  constructor(button, onPress) {
    this.onPress = onPress;
    this.taps = 0;
    this.timer = null;
    this.longTimer = null;
    this.down = false;
    const press = (event) => {
      if (this.down) return;
      this.down = true;
      event.preventDefault();
      button.classList.add('pressed');
      clearTimeout(this.timer);
      this.longTimer = setTimeout(() => {
        this.longTimer = null;
        this.taps = 0;
        this.fire('long');
      }, LONG_PRESS);
    };
    const release = (event) => {
      if (!this.down) return;
      this.down = false;
      event.preventDefault();
      button.classList.remove('pressed');
      if (this.longTimer === null) return;  // the long press has fired
      clearTimeout(this.longTimer);
      this.longTimer = null;
      this.taps += 1;
      if (this.taps >= 3) {
        this.taps = 0;
        this.fire('triple');
        return;
      }
      this.timer = setTimeout(() => {
        const taps = this.taps === 2 ? 'double' : 'single';
        this.taps = 0;
        this.fire(taps);
      }, TAP_GAP);
    };
    button.addEventListener('pointerdown', press);
    button.addEventListener('pointerup', release);
    button.addEventListener('pointerleave', release);
    button.addEventListener('keydown', (event) => {
      if ((event.key === ' ' || event.key === 'Enter') && !event.repeat) press(event);
      else if (event.key === ' ' || event.key === 'Enter') event.preventDefault();
    });
    button.addEventListener('keyup', (event) => {
      if (event.key === ' ' || event.key === 'Enter') release(event);
    });
    button.addEventListener('click', (event) => event.preventDefault());
  }

  fire(taps) {
    this.onPress(taps);
  }
}

function ring() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 200 200');
  svg.setAttribute('class', 'ring');
  svg.setAttribute('aria-hidden', 'true');
  const shell = document.createElementNS(SVG, 'circle');
  for (const [k, v] of Object.entries({cx: 100, cy: 100, r: 97, class: 'shell'})) shell.setAttribute(k, v);
  svg.append(shell);
  const track = document.createElementNS(SVG, 'circle');
  for (const [k, v] of Object.entries({cx: 100, cy: 100, r: 80, class: 'track'})) track.setAttribute(k, v);
  svg.append(track);
  const leds = [];
  for (let i = 0; i < LED_COUNT; i += 1) {
    const angle = (-90 + i * (360 / LED_COUNT)) * (Math.PI / 180);
    const led = document.createElementNS(SVG, 'circle');
    led.setAttribute('cx', (100 + 80 * Math.cos(angle)).toFixed(2));
    led.setAttribute('cy', (100 + 80 * Math.sin(angle)).toFixed(2));
    led.setAttribute('r', '10');
    led.setAttribute('class', 'led');
    led.dataset.led = String(i + 1);
    led.dataset.color = 'off';
    svg.append(led);
    leds.push(led);
  }
  return {svg, leds};
}

export class DeviceCard {
  constructor(name, page) {
    this.name = name;
    this.page = page;  // {command(action, args), still, soundOn(), speak(text, lang)}
    this.led = null;
    this.ledStart = 0;
    this.ledSeq = 0;
    this.vibrationSeq = null;
    this.heardSeq = null;
    this.dirtySettings = false;
    this.build();
  }

  send(action, args = {}) {
    return this.page.command(action, {device: this.name, ...args});
  }

  build() {
    const n = this.name;
    this.el = el('article', {class: 'device', 'data-device': n, 'aria-label': `Device ${n}`});
    this.title = el('h3', {}, n);
    this.meta = el('span', {class: 'meta'});
    this.battery = el('span', {class: 'battery', 'data-role': 'battery'});
    this.el.append(el('header', {class: 'device-head'}, this.title, this.meta, this.battery));

    const {svg, leds} = ring();
    this.leds = leds;
    this.talk = el('button', {type: 'button', class: 'talk',
      'aria-label': `${n}: talk (action) button; tap, double tap, triple tap or hold`}, 'Talk');
    this.face = el('div', {class: 'face'}, svg, this.talk);
    new TapButton(this.talk, (taps) => this.send('press', {button: 'action', taps}));
    this.knob = el('button', {type: 'button', class: 'knob',
      'aria-label': `${n}: channel button; tap, double tap, triple tap or hold`}, 'Channel');
    new TapButton(this.knob, (taps) => this.send('press', {button: 'channel', taps}));
    this.vibrating = el('span', {class: 'badge vibrate', hidden: ''}, 'vibrating');
    this.ledCaption = el('p', {class: 'led-caption', 'data-role': 'led'});
    this.el.append(el('div', {class: 'body'}, this.face,
      el('div', {class: 'side'}, this.knob, this.vibrating)), this.ledCaption);

    this.speech = el('q', {'data-role': 'heard'});
    this.speechBox = el('p', {class: 'speech', 'aria-live': 'polite'},
      el('span', {class: 'label'}, 'Heard'), ' ', this.speech);
    this.status = el('p', {class: 'status-line', 'data-role': 'status'});
    this.subscriptions = el('p', {class: 'subscriptions', 'data-role': 'subscriptions', hidden: ''});
    this.waiting = el('p', {class: 'waiting', 'data-role': 'waiting', hidden: ''});
    this.el.append(this.speechBox, this.status, this.subscriptions, this.waiting);

    const presses = el('div', {class: 'presses'});
    for (const button of ['action', 'channel']) {
      const row = el('div', {class: 'press-row', role: 'group', 'aria-label': `${n}: ${button} button`},
        el('span', {class: 'row-label'}, button === 'action' ? 'Action' : 'Channel'));
      for (const taps of ['single', 'double', 'triple', 'long']) {
        const b = el('button', {type: 'button', 'aria-label': `${n}: press ${button} ${taps}`}, taps);
        b.addEventListener('click', () => this.send('press', {button, taps}));
        row.append(b);
      }
      presses.append(row);
    }
    this.el.append(presses);

    const sayId = `say-${n.replace(/\W/g, '_')}`;
    this.sayInput = el('input', {id: sayId, type: 'text', autocomplete: 'off',
      placeholder: 'what the person says'});
    this.listening = el('p', {class: 'listening', 'data-role': 'listening', hidden: ''});
    this.queued = el('p', {class: 'queued', 'data-role': 'queued', hidden: ''});
    const silence = el('button', {type: 'button', 'aria-label': `${n}: say nothing (silence)`}, 'Silence');
    silence.addEventListener('click', () => this.send('say', {text: null}));
    const extras = el('div', {class: 'say-extras'}, silence);
    this.sayForm = el('form', {class: 'say', 'data-role': 'say'},
      el('label', {for: sayId}, `${n} says (push to talk)`),
      el('div', {class: 'say-row'}, this.sayInput,
        el('button', {type: 'submit', 'aria-label': `${n}: say it`}, 'Say')),
      extras, this.listening, this.queued);
    if (Recognition) {
      const mic = el('button', {type: 'button', 'aria-label': `${n}: speak into the microphone`}, 'Speak aloud');
      mic.addEventListener('click', () => this.recognise(mic));
      extras.append(mic);
    }
    this.sayForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send('say', {text: this.sayInput.value}).then((r) => { if (r.ok) this.sayInput.value = ''; });
    });
    this.el.append(this.sayForm);

    this.alerts = el('ul', {class: 'alerts', 'data-role': 'alerts', 'aria-label': `${n}: notifications`});
    this.calls = el('ul', {class: 'calls', 'data-role': 'calls', 'aria-label': `${n}: calls`});
    this.el.append(this.alerts, this.calls);
    this.el.append(this.buildEvents(), this.buildMore());
  }

  // The events the device makes for subscribed workflows: an NFC tap, an indoor
  // position, a geofence crossing, an HTTP POST.  Each is sent as the simulator's
  // device_event command, checked there as relaysync simulate --event is.
  buildEvents() {
    const n = this.name;
    const id = (k) => `${k}-${n.replace(/\W/g, '_')}`;
    const input = (key, label, attrs = {}) => {
      const field = el(attrs.tag || 'input', {id: id(key), autocomplete: 'off', spellcheck: 'false', ...attrs, tag: null});
      return [el('label', {for: id(key)}, label), field];
    };
    const transition = (key) => {
      const select = el('select', {id: id(key)}, el('option', {value: 'entry'}, 'entry'), el('option', {value: 'exit'}, 'exit'));
      return [el('label', {for: id(key)}, 'Transition'), select];
    };
    const form = (spec, fields, read) => {
      const send = el('button', {type: 'submit', 'aria-label': `${n}: ${spec.verb}`}, spec.button);
      const legend = el('legend', {}, spec.title, el('span', {class: 'subscribed-mark', hidden: ''}, ' · subscribed'));
      const box = el('form', {class: 'device-event', 'data-event': spec.event},
        el('fieldset', {}, legend, el('div', {class: 'event-fields'}, ...fields.flat()), send));
      box.addEventListener('submit', (event) => {
        event.preventDefault();
        let values;
        try {
          values = read();
        } catch (error) {
          this.page.notice(`${spec.title}: ${error.message}`);
          return;
        }
        this.send('device_event', {event: spec.event, fields: values});
      });
      return box;
    };
    const [uidLabel, uid] = input('nfc-uid', 'Tag uid', {placeholder: 'e.g. 04A2B3C4'});
    const [contentLabel, content] = input('nfc-content', 'Tag content', {placeholder: 'optional'});
    const [placeLabel, place] = input('position', 'Position', {placeholder: 'venue / floor / room'});
    const [tagsLabel, tags] = input('position-tags', 'Tags', {placeholder: 'comma-separated, optional'});
    const [placeWayLabel, placeWay] = transition('position-transition');
    const [fenceLabel, fence] = input('geofence', 'Geofence', {placeholder: 'its label'});
    const [fenceWayLabel, fenceWay] = transition('geofence-transition');
    const [payloadLabel, payload] = input('http-payload', 'Payload (JSON)', {tag: 'textarea', rows: 2, placeholder: '{"door": "open"}'});
    const forms = {
      nfc_tap: form(DEVICE_EVENTS[0], [[uidLabel, uid], [contentLabel, content]], () => {
        const values = {uid: uid.value.trim()};
        if (content.value) values.tag_content = content.value;
        return values;
      }),
      position: form(DEVICE_EVENTS[1], [[placeLabel, place], [tagsLabel, tags], [placeWayLabel, placeWay]], () => ({
        position_metadata: place.value.trim(),
        position_tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean),
        transition: placeWay.value,
      })),
      geofence: form(DEVICE_EVENTS[2], [[fenceLabel, fence], [fenceWayLabel, fenceWay]], () => ({
        geofence_label: fence.value.trim(), transition: fenceWay.value,
      })),
      http_post: form(DEVICE_EVENTS[3], [[payloadLabel, payload]], () => {
        try {
          return {payload: JSON.parse(payload.value)};
        } catch (error) {
          throw new Error(`the payload is not JSON (${error.message})`);
        }
      }),
    };
    this.eventForms = forms;
    this.events = el('details', {class: 'more events', 'data-role': 'events'},
      el('summary', {}, 'Device events (NFC, position, HTTP)'),
      ...DEVICE_EVENTS.map((spec) => forms[spec.event]));
    this.eventsOpened = false;
    return this.events;
  }

  buildMore() {
    const n = this.name;
    const id = (k) => `${k}-${n.replace(/\W/g, '_')}`;
    const field = (key, label, attrs = {}) => {
      const input = el('input', {id: id(key), name: key, ...attrs});
      input.addEventListener('input', () => { this.dirtySettings = true; });
      return [input, el('label', {for: id(key)}, label)];
    };
    const [battery, batteryLabel] = field('battery', 'Battery %', {type: 'number', min: 0, max: 100, step: 1});
    const [enabled, enabledLabel] = field('location_enabled', 'Location on', {type: 'checkbox'});
    const [address, addressLabel] = field('address', 'Address', {type: 'text'});
    const [lat, latLabel] = field('lat', 'Latitude', {type: 'number', step: 'any', min: -90, max: 90});
    const [lon, lonLabel] = field('lon', 'Longitude', {type: 'number', step: 'any', min: -180, max: 180});
    const [indoor, indoorLabel] = field('indoor', 'Indoor location', {type: 'text'});
    this.settings = {battery, enabled, address, lat, lon, indoor};
    const form = el('form', {class: 'settings', 'data-role': 'settings'},
      batteryLabel, battery, addressLabel, address, latLabel, lat, lonLabel, lon,
      indoorLabel, indoor, el('span', {class: 'check'}, enabled, enabledLabel),
      el('button', {type: 'submit', 'aria-label': `${n}: save battery and location`}, 'Save'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send('set_device', {
        battery: Number.parseInt(battery.value, 10),
        address: address.value,
        latlong: [Number.parseFloat(lat.value), Number.parseFloat(lon.value)],
        indoor_location: indoor.value,
        location_enabled: enabled.checked,
      }).then((r) => { if (r.ok) this.dirtySettings = false; });
    });
    const callInput = el('input', {id: id('call'), type: 'text', autocomplete: 'off',
      placeholder: 'a device name, a URN or a number'});
    const callForm = el('form', {class: 'ask-call'},
      el('label', {for: id('call')}, 'Ask the assistant to call'),
      el('div', {class: 'say-row'}, callInput, el('button', {type: 'submit', 'aria-label': `${n}: ask to call`}, 'Call')));
    callForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send('call', {uri: callInput.value}).then((r) => { if (r.ok) callInput.value = ''; });
    });
    return el('details', {class: 'more'}, el('summary', {}, 'Battery, location and calls'), form, callForm);
  }

  recognise(mic) {
    const recognition = new Recognition();
    recognition.lang = navigator.language || 'en-US';
    recognition.interimResults = false;
    mic.disabled = true;
    mic.textContent = 'Listening…';
    recognition.onresult = (event) => {
      const text = event.results[0][0].transcript;
      this.sayInput.value = text;
      this.send('say', {text}).then((r) => { if (r.ok) this.sayInput.value = ''; });
    };
    recognition.onerror = (event) => this.page.notice(`speech recognition: ${event.error}; type the answer instead`);
    recognition.onend = () => { mic.disabled = false; mic.textContent = 'Speak aloud'; };
    recognition.start();
  }

  // ---------------------------------------------------------------- state
  update(d, waiting) {
    setText(this.meta, `${d.type} · ${d.id}${d.username ? ` · ${d.username}` : ''}`);
    setText(this.battery, `battery ${d.battery}%`);
    this.battery.classList.toggle('low', d.battery < 20);

    if (d.led && d.led.seq !== this.ledSeq) {
      this.ledSeq = d.led.seq;
      this.led = d.led;
      this.ledStart = performance.now();
      this.page.animate();
    } else if (!d.led) {
      this.led = null;
    }
    this.el.dataset.effect = this.led ? this.led.effect : 'none';
    setText(this.ledCaption, describe(this.led));
    this.drawLeds(performance.now());

    if (d.vibration && this.vibrationSeq !== null && d.vibration.seq !== this.vibrationSeq) {
      this.vibrate(d.vibration.pattern);
    }
    this.vibrationSeq = d.vibration ? d.vibration.seq : 0;

    const last = d.heard.length ? d.heard[d.heard.length - 1] : null;
    setText(this.speech, last ? last.text : d.played ? `(played ${d.played})` : 'nothing yet');
    if (this.heardSeq !== null && last && last.seq > this.heardSeq) {
      this.speechBox.classList.remove('fresh');
      void this.speechBox.offsetWidth;  // restart the highlight
      this.speechBox.classList.add('fresh');
      if (this.page.soundOn()) {
        for (const item of d.heard) if (item.seq > this.heardSeq) this.page.speak(item.text);
      }
    }
    this.heardSeq = last ? last.seq : 0;

    const fg = d.interactions.length ? d.interactions[d.interactions.length - 1] : null;
    const parts = [];
    if (fg) parts.push(`in "${fg.name}" (run ${fg.run})${fg.inputs.length ? `: buttons go to the workflow (${fg.inputs.join(', ')})` : ''}`);
    else parts.push('no interaction');
    const covered = d.interactions.length - 1;
    if (covered > 0) parts.push(`${covered} more behind it`);
    parts.push(`channel ${d.channel || 'home'}`);
    if (!d.location_enabled) parts.push('location off');
    if (d.groups.length) parts.push(`groups: ${d.groups.join(', ')}`);
    setText(this.status, parts.join(' · '));

    const subscribed = new Map();
    for (const s of d.subscriptions) subscribed.set(s.event, s);
    this.subscriptions.hidden = subscribed.size === 0;
    setText(this.subscriptions, subscribed.size ? `The workflow is subscribed to ${DEVICE_EVENTS
      .filter((spec) => subscribed.has(spec.event))
      .map((spec) => `${spec.type} (run ${subscribed.get(spec.event).runs.join(', ')})`).join(', ')}` : '');
    for (const spec of DEVICE_EVENTS) {
      const on = subscribed.has(spec.event);
      const box = this.eventForms[spec.event];
      box.classList.toggle('subscribed', on);
      box.querySelector('.subscribed-mark').hidden = !on;
    }
    if (subscribed.size && !this.eventsOpened) {  // show the controls once, when first needed
      this.eventsOpened = true;
      this.events.open = true;
    }

    const waits = Array.from(new Set(waiting.map((f) => CARD_HINTS[f.kind]).filter(Boolean)));
    this.waiting.hidden = waits.length === 0;
    setText(this.waiting, `The workflow is waiting for ${this.name}: ${waits.join('; ')}.`);

    this.el.classList.toggle('is-listening', Boolean(d.listening));
    this.listening.hidden = !d.listening;
    setText(this.listening, d.listening ? `${this.name} is listening (run ${d.listening.run}): answer now` : '');
    this.queued.hidden = d.answers.length === 0;
    setText(this.queued, d.answers.length ? `Queued for the next listen: ${d.answers.map((a) => `"${a}"`).join(', ')}` : '');

    this.updateAlerts(d.notifications);
    this.updateCalls(d.calls);
    if (!this.dirtySettings && !this.el.querySelector('.settings').contains(document.activeElement)) {
      const s = this.settings;
      s.battery.value = d.battery;
      s.enabled.checked = Boolean(d.location_enabled);
      s.address.value = d.address || '';
      s.lat.value = d.latlong ? d.latlong[0] : '';
      s.lon.value = d.latlong ? d.latlong[1] : '';
      s.indoor.value = d.indoor_location || '';
    }
  }

  updateAlerts(notifications) {
    const shown = notifications.filter((x) => x.state === 'active' || x.type !== 'alert').slice(-4)
      .concat(notifications.filter((x) => x.type === 'alert' && x.state !== 'active').slice(-2));
    shown.sort((a, b) => a.index - b.index);
    keyed(this.alerts, shown, (x) => String(x.index), (x) => {
      const text = el('span', {class: 'text'});
      const li = el('li', {class: 'notification'}, el('span', {class: 'kind'}), text);
      if (x.type === 'alert') {
        const ack = el('button', {type: 'button', 'aria-label': `${this.name}: acknowledge alert ${x.name}`}, 'Acknowledge');
        ack.addEventListener('click', () => this.send('ack', {name: x.name}));
        li.append(ack);
      }
      return li;
    }, (li, x) => {
      li.className = `notification ${x.type} ${x.state}`;
      setText(li.querySelector('.kind'), x.state === 'active' ? x.type : `${x.type} ${x.state}`);
      setText(li.querySelector('.text'), `"${x.text}"${x.from ? ` from ${x.from}` : ''}`);
      const ack = li.querySelector('button');
      if (ack) ack.hidden = x.state !== 'active';
    });
  }

  updateCalls(calls) {
    keyed(this.calls, calls, (c) => c.id, (c) => {
      const li = el('li', {class: 'call'}, el('span', {class: 'text'}));
      const answer = el('button', {type: 'button', 'data-role': 'answer', 'aria-label': `${this.name}: answer the call`}, 'Answer');
      answer.addEventListener('click', () => this.send('answer', {call: c.id}));
      const end = el('button', {type: 'button', 'data-role': 'hangup'});
      end.addEventListener('click', () => this.send('hangup', {call: c.id}));
      li.append(answer, end);
      return li;
    }, (li, c) => {
      const ringing = c.state === 'ringing';
      const text = ringing
        ? (c.direction === 'incoming' ? `Incoming call from ${c.other}` : `Calling ${c.other}…`)
        : `On a call with ${c.other}`;
      setText(li.querySelector('.text'), text);
      li.className = `call ${c.state}`;
      li.querySelector('[data-role=answer]').hidden = !(ringing && c.direction === 'incoming');
      const end = li.querySelector('[data-role=hangup]');
      const word = !ringing ? 'Hang up' : c.direction === 'incoming' ? 'Decline' : 'Cancel';
      setText(end, word);
      end.setAttribute('aria-label', `${this.name}: ${word.toLowerCase()} the call`);
    });
  }

  // ------------------------------------------------------------ animation
  // Draws the ring at time now; returns true while the effect still changes.
  drawLeds(now) {
    const t = this.page.still ? stillTime(this.led) : now - this.ledStart;
    const lights = frame(this.led, t);
    lights.forEach((light, i) => {
      const led = this.leds[i];
      const on = light.color && light.level > 0;
      led.dataset.color = on ? light.color : 'off';
      led.setAttribute('fill', on ? `#${light.color}` : '#20242b');
      led.setAttribute('fill-opacity', on ? String(0.25 + 0.75 * light.level) : '1');
      led.classList.toggle('on', Boolean(on));
    });
    return !this.page.still && this.led !== null && t < effectLength(this.led)
      && this.led.effect !== 'static' && this.led.effect !== 'off';
  }

  vibrate(pattern) {
    this.vibrating.hidden = false;
    if (this.page.still) return;
    // Android-style: a pause, then buzz / pause durations in milliseconds.
    let at = 0;
    pattern.forEach((ms, i) => {
      const buzz = i % 2 === 1;
      if (buzz) {
        setTimeout(() => this.face.classList.add('buzz'), at);
        setTimeout(() => this.face.classList.remove('buzz'), at + ms);
      }
      at += ms;
    });
    setTimeout(() => { this.vibrating.hidden = true; }, at + 50);
  }
}
