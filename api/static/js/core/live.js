// The live channel of a packet (GET /v1/packets/{id}/live): its address, its
// timings, and the close codes after which reconnecting cannot help. The
// packet screen owns the socket (screens/packet/page.js: connect()).

export const EDIT_DEBOUNCE_MS = 250;
// Live-channel close codes after which reconnecting cannot help.
export const FINAL_CLOSE_CODES = new Set([4400, 4403, 4404]);
export const POLL_MS = 4000;
export const ACK_GRACE_MS = 3000;
// Presence lapses on the server when a socket stays silent (30 s by default).
export const HEARTBEAT_MS = 10000;

// The token goes in the first message, so it never appears in a URL or log.
export function liveUrl(base, since) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${base}/live?since=${since}`;
}
