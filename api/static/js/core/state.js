// The signed-in session, shared by every screen, and the hooks the router
// fills in (so that modules below it can sign out or re-route).

export const TOKEN_KEY = "quire.token";

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  me: null, // GET /v1/me: {user_id, name, roles, is_admin, is_auditor, is_agent, lanes}
};

export const hooks = {
  signOut: () => {},
  route: () => {},
};
