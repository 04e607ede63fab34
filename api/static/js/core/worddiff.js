// Word-level diffs: a section is one paragraph, so a one-word change marks
// that word, not the whole text. Used by suggestions, the conflict box,
// revision diffs and "changes since the last release".

import { h } from "./dom.js";
import { commonEnds } from "./ops.js";

// Words, runs of spaces, and single other characters (punctuation).
export function tokens(text) {
  return String(text || "").match(/\s+|[\p{L}\p{N}_'’-]+|[^\s]/gu) || [];
}

// [{op: "same" | "del" | "ins", text}] turning `a` into `b`, word by word.
export function wordDiff(a, b) {
  const x = tokens(a);
  const y = tokens(b);
  const [p, s] = commonEnds(x, y);
  const xs = x.slice(p, x.length - s);
  const ys = y.slice(p, y.length - s);
  const out = [];
  const push = (op, text) => {
    if (!text) return;
    const last = out[out.length - 1];
    if (last && last.op === op) last.text += text;
    else out.push({ op, text });
  };
  push("same", x.slice(0, p).join(""));
  if (xs.length * ys.length > 4_000_000) {
    // Too long to align word by word: one replacement of the middle.
    push("del", xs.join(""));
    push("ins", ys.join(""));
  } else {
    // Longest common subsequence of the middle tokens.
    const n = xs.length;
    const m = ys.length;
    const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i][j] = xs[i] === ys[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && xs[i] === ys[j]) {
        push("same", xs[i]);
        i++;
        j++;
      } else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) {
        push("del", xs[i++]); // what goes out reads before what comes in
      } else {
        push("ins", ys[j++]);
      }
    }
  }
  push("same", x.slice(x.length - s).join(""));
  return out;
}

// The diff as inline text: removed words struck through, added ones marked.
export function wordDiffView(a, b, attrs = {}) {
  const parts = wordDiff(a, b);
  const changed = parts.some((p) => p.op !== "same");
  return h(
    "p",
    { class: "wdiff", "data-testid": "word-diff", ...attrs },
    changed
      ? parts.map((p) =>
          p.op === "same"
            ? p.text
            : p.op === "del"
              ? h("del", { "aria-label": `removed: ${p.text}` }, p.text)
              : h("ins", { "aria-label": `added: ${p.text}` }, p.text),
        )
      : h("span", { class: "muted" }, "(no change)"),
  );
}

export function changedWords(a, b) {
  return wordDiff(a, b).filter((p) => p.op !== "same");
}
