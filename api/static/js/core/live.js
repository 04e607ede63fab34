// The live channel of a packet (GET /v1/packets/{id}/live): its address, its
// timings, and the close codes after which reconnecting cannot help. The
// packet screen owns the socket (screens/packet/page.js: connect()).

// Typing streams: the first keystroke after a send starts this timer, later
// ones do not restart it, so a steady typist's text leaves every STREAM_MS
// (one op in flight per section; what is typed meanwhile is the next op).
export const STREAM_MS = 60;
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
