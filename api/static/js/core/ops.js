// Text and ops, by the server's rules (workspace/rebase.py).

// Server positions are code points; JS strings are UTF-16. Work on arrays.
export const cps = (s) => Array.from(s);
export const cpLen = (s) => Array.from(s).length;

export function applyOps(text, ops) {
  const chars = cps(text);
  const out = [];
  let cursor = 0;
  for (const op of ops) {
    if (op.at < cursor || op.at + op.delete > chars.length) throw new Error("ops do not fit the text");
    out.push(chars.slice(cursor, op.at).join(""), op.insert);
    cursor = op.at + op.delete;
  }
  out.push(chars.slice(cursor).join(""));
  return out.join("");
}

// [p, s]: how many items the arrays `x` and `y` share at the start (p) and,
// of the rest, at the end (s). Only what lies between differs.
export function commonEnds(x, y) {
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let s = 0;
  while (s < x.length - p && s < y.length - p && x[x.length - 1 - s] === y[y.length - 1 - s]) s++;
  return [p, s];
}

// The smallest single replacement turning `a` into `b`.
export function diffOps(a, b) {
  if (a === b) return [];
  const x = cps(a);
  const y = cps(b);
  const [p, s] = commonEnds(x, y);
  return [{ at: p, delete: x.length - p - s, insert: y.slice(p, y.length - s).join("") }];
}

// What the user replaced since `base`, as one op turning `base` into `local`:
// the smallest such replacement, widened to cover every range the user's
// inputs replaced (`touched`: code points kept untouched at the start, and at
// the end). Replacing a word by one that starts or ends like it stays a
// replacement of the whole word, as the user did it: two such replacements of
// the same word overlap, and the server records the second as a conflict
// instead of merging two inserts into a blend.
export function userOps(base, local, touched) {
  const ops = diffOps(base, local);
  if (!ops.length || !touched) return ops;
  const [op] = ops;
  const x = cps(base);
  const suffix = x.length - op.at - op.delete;
  const at = Math.min(op.at, touched.start);
  const tail = Math.min(suffix, touched.tail);
  const y = cps(local);
  return [{ at, delete: x.length - at - tail, insert: y.slice(at, y.length - tail).join("") }];
}

// Widens `touched` (see userOps) by one input that turned `before` into
// `after`, with the selection (code points) it replaced.
export function touchInput(touched, before, after, selStart, selEnd) {
  const [op] = diffOps(before, after);
  let start = op ? op.at : selStart;
  let end = op ? op.at + op.delete : selStart;
  if (selEnd > selStart) {
    start = Math.min(start, selStart);
    end = Math.max(end, selEnd);
  }
  const tail = cpLen(before) - end;
  if (!touched) return { start, tail };
  return { start: Math.min(touched.start, start), tail: Math.min(touched.tail, tail) };
}

// `ops` and `against` are changesets on the same text; returns `ops` rebased onto
// the text after `against`, or null when they touch the same replaced text.
// With againstFirst, an insert of `against` at our insert's position goes first
// (the server's rule for a later edit); without it, ours goes first.
export function transformOps(ops, against, againstFirst) {
  const out = [];
  let j = 0;
  let shift = 0;
  for (const op of ops) {
    if (op.delete === 0 && op.insert === "") continue;
    const start = op.at;
    const end = op.at + op.delete;
    const pureInsert = op.delete === 0;
    while (j < against.length) {
      const t = against[j];
      const tEnd = t.at + t.delete;
      const tieInsert = tEnd === start && t.delete === 0 && pureInsert && t.at === start;
      if (!(tEnd < start || (tEnd === start && (!tieInsert || againstFirst)))) break;
      shift += cpLen(t.insert) - t.delete;
      j++;
    }
    const next = j < against.length ? against[j] : null;
    let at = start + shift;
    if (pureInsert) {
      if (next && next.at < start) return null;
      if (next && next.at === start && againstFirst) at += cpLen(next.insert);
    } else if (next && next.at < end) {
      return null;
    }
    const last = out[out.length - 1];
    if (last && last.delete === 0 && op.delete === 0 && last.at === at) {
      last.insert += op.insert;
      continue;
    }
    out.push({ at, delete: op.delete, insert: op.insert });
  }
  return out;
}

// Moves a caret (code points) through ops applied by someone else.
export function mapCaret(pos, ops) {
  let shift = 0;
  for (const op of ops) {
    const end = op.at + op.delete;
    if (end <= pos && !(op.delete === 0 && op.at === pos)) {
      shift += cpLen(op.insert) - op.delete;
    } else if (op.at < pos && pos < end) {
      return op.at + shift + cpLen(op.insert);
    }
  }
  return pos + shift;
}

export const toCp = (s, utf16) => cpLen(s.slice(0, utf16));
export const toUtf16 = (s, cp) => cps(s).slice(0, cp).join("").length;

export function newClientId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
