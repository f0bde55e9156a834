// The Sluice console: login, dashboards, SQL editor, table browser, DAGs. Hash routing
// (#/dashboards/sales), plain TypeScript modules.
import "./style.css";
import { ApiError, get, post, setCsrf } from "./api";
import { clear, h, message } from "./dom";
import { dashboardList, dashboardPage } from "./pages/dashboards";
import { sqlPage } from "./pages/sql";
import { tablesPage } from "./pages/tables";
import { dagsPage, dagPage } from "./pages/dags";

interface SessionInfo {
  user: string;
  admin: boolean;
  csrf: string;
  platform?: string;
}

const app = document.getElementById("app")!;
let session: SessionInfo | null = null;

function loginPage(): void {
  const user = h("input", { name: "user", id: "login-user", autocomplete: "username", required: true }) as HTMLInputElement;
  const password = h("input", {
    name: "password",
    id: "login-password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  }) as HTMLInputElement;
  const status = h("div", { id: "login-message" });
  const form = h(
    "form",
    { class: "login", id: "login-form" },
    h("h1", {}, "Sluice"),
    h("p", { class: "muted" }, "Log in with your Sluice user (the same as for the SQL gateway)."),
    h("label", {}, "User", user),
    h("label", {}, "Password", password),
    h("button", { type: "submit", class: "primary" }, "Log in"),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(status);
    try {
      session = await post<SessionInfo>("/api/login", { user: user.value, password: password.value });
      setCsrf(session.csrf);
      if (!location.hash || location.hash === "#/login") location.hash = "#/dashboards";
      else route();
    } catch (err) {
      const msg = err instanceof ApiError && err.status === 401 ? "Wrong user name or password." : (err as Error).message;
      clear(status, message("error", msg));
      password.select();
    }
  });
  clear(app, h("div", { class: "login-wrap" }, form));
  user.focus();
}

function shell(active: string): HTMLElement {
  const link = (href: string, label: string, key: string) =>
    h("a", { href, class: active === key ? "active" : "", id: `nav-${key}` }, label);
  const logout = h("button", { class: "link", id: "logout" }, "Log out");
  logout.addEventListener("click", async () => {
    try {
      await post("/api/logout");
    } catch {
      /* already gone */
    }
    session = null;
    location.hash = "#/login";
  });
  const main = h("main", { id: "main" });
  clear(
    app,
    h(
      "header",
      { class: "top" },
      h("span", { class: "brand" }, "Sluice"),
      h("nav", {}, link("#/dashboards", "Dashboards", "dashboards"), link("#/sql", "SQL", "sql"), link("#/tables", "Tables", "tables"), link("#/dags", "DAGs", "dags")),
      h("span", { class: "who" }, `${session!.user}${session!.admin ? " (admin)" : ""}`, logout),
    ),
    main,
  );
  return main;
}

async function route(): Promise<void> {
  const parts = location.hash.split("?")[0].replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (!session) {
    try {
      session = await get<SessionInfo>("/api/session");
      setCsrf(session.csrf);
    } catch {
      session = null;
    }
  }
  if (!session || parts[0] === "login") {
    if (session && parts[0] === "login") {
      location.hash = "#/dashboards";
      return;
    }
    loginPage();
    return;
  }
  const page = parts[0] || "dashboards";
  const main = shell(page);
  try {
    if (page === "dashboards" && parts[1]) await dashboardPage(main, parts[1]);
    else if (page === "dashboards") await dashboardList(main);
    else if (page === "sql") await sqlPage(main);
    else if (page === "tables") await tablesPage(main, parts[1], parts[2]);
    else if (page === "dags" && parts[1]) await dagPage(main, parts[1]);
    else if (page === "dags") await dagsPage(main);
    else clear(main, message("error", `No page ${location.hash}`));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session = null;
      loginPage();
      return;
    }
    main.append(message("error", (err as Error).message));
  }
}

window.addEventListener("hashchange", () => void route());
void route();
