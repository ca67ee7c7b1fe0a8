// The LED ring: what each of the 12 LEDs shows at a moment of an effect.
//
// An effect is what the workflow sent with set_led: {effect, args}.  args.colors
// maps "ring" (every LED) or "1".."12" to six hex digits; count / rotations of
// -1 (or none) mean "until changed"; duration is one cycle in milliseconds and
// repeat_delay a pause between cycles.  Finite effects end with the ring dark.

export const LED_COUNT = 12;

const CYCLE = {flash: 1000, breathe: 2000, rotate: 1200, rainbow: 2400};

function hex(color) {
  return typeof color === 'string' && /^[0-9a-fA-F]{6}$/.test(color) ? color.toLowerCase() : null;
}

// The colour of each LED as the effect's args name them (null: not lit).
export function baseColors(args) {
  const colors = (args && args.colors) || {};
  const out = new Array(LED_COUNT).fill(null);
  if (hex(colors.ring)) out.fill(hex(colors.ring));
  for (const [key, value] of Object.entries(colors)) {
    const index = Number.parseInt(key, 10);
    if (index >= 1 && index <= LED_COUNT && hex(value)) out[index - 1] = hex(value);
  }
  return out;
}

function repeats(args, key) {
  const value = args ? args[key] : undefined;
  return Number.isInteger(value) && value >= 0 ? value : Infinity;
}

function cycle(effect, args) {
  const duration = args && Number.isInteger(args.duration) && args.duration > 0
    ? args.duration : CYCLE[effect];
  const pause = args && Number.isInteger(args.repeat_delay) && args.repeat_delay > 0
    ? args.repeat_delay : 0;
  return {duration, period: duration + pause};
}

function hsl(hue) {  // a fully saturated colour as six hex digits
  const f = (n) => {
    const k = (n + hue / 30) % 12;
    const v = 0.5 - 0.5 * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(v * 255).toString(16).padStart(2, '0');
  };
  return f(0) + f(8) + f(4);
}

// How long the effect runs, in milliseconds (Infinity: until changed).
export function effectLength(led) {
  if (!led) return 0;
  const {effect, args} = led;
  if (effect === 'flash' || effect === 'breathe') return repeats(args, 'count') * cycle(effect, args).period;
  if (effect === 'rotate' || effect === 'rainbow') return repeats(args, 'rotations') * cycle(effect, args).period;
  return Infinity;
}

// A moment that shows the effect well, for a still picture.
export function stillTime(led) {
  if (led && led.effect === 'breathe') return cycle('breathe', led.args).duration / 2;
  return 0;
}

// What the ring shows t milliseconds into the effect:
// an array of LED_COUNT {color, level} (color null: dark; level 0..1).
export function frame(led, t) {
  const dark = () => new Array(LED_COUNT).fill(null).map(() => ({color: null, level: 0}));
  if (!led || led.effect === 'off') return dark();
  const {effect, args} = led;
  if (t >= effectLength(led)) return effect === 'static' ? lit(baseColors(args), 1) : dark();
  const {duration, period} = cycle(effect, args);
  const phase = t % period;
  if (effect === 'static') return lit(baseColors(args), 1);
  if (effect === 'flash') {
    const on = phase < duration / 2;
    return lit(baseColors(args), on ? 1 : 0);
  }
  if (effect === 'breathe') {
    const level = phase < duration ? 0.5 - 0.5 * Math.cos((2 * Math.PI * phase) / duration) : 0;
    return lit(baseColors(args), level);
  }
  if (effect === 'rotate') {
    const colors = baseColors(args);
    const color = colors.find((c) => c) || 'ffffff';
    const out = dark();
    if (phase >= duration) return out;
    const head = Math.floor((phase / duration) * LED_COUNT) % LED_COUNT;
    [[0, 1], [1, 0.45], [2, 0.18]].forEach(([behind, level]) => {
      out[(head - behind + LED_COUNT) % LED_COUNT] = {color, level};
    });
    return out;
  }
  if (effect === 'rainbow') {
    const turn = (Math.min(phase, duration) / duration) * 360;
    return new Array(LED_COUNT).fill(null).map((_, i) => ({color: hsl((i * 30 + turn) % 360), level: 1}));
  }
  return lit(baseColors(args), 1);  // an effect this page does not know: its colours
}

function lit(colors, level) {
  return colors.map((color) => ({color, level: color ? level : 0}));
}

// "flash ff0000 ×3" – a short caption for an effect.
export function describe(led) {
  if (!led) return 'LEDs never set';
  const {effect, args} = led;
  const parts = [effect === 'off' ? 'LEDs off' : `LED ${effect}`];
  const colors = (args && args.colors) || {};
  for (const [key, value] of Object.entries(colors)) parts.push(key === 'ring' ? `#${value}` : `${key}:#${value}`);
  for (const key of ['count', 'rotations', 'duration', 'repeat_delay', 'pattern_repeats']) {
    if (args && args[key] !== undefined) parts.push(`${key} ${args[key] === -1 ? '∞' : args[key]}`);
  }
  return parts.join(' · ');
}
