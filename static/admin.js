/* The admin page's script: hash routing, JSON calls to /admin/api/, DOM built
   with createElement and textContent only, so no owner data is ever parsed as
   HTML. No framework and nothing loaded from the network but this server. */
(function () {
  "use strict";

  const state = { csrf: "", admin: null, owners: [], auditNext: null };
  const $ = (id) => document.getElementById(id);
  const PLANS = ["professional", "personal", "free"];
  const STATUSES = ["active", "lapsed"];
  const SOURCES = ["manual", "stripe", "voucher"];

  // -- DOM helpers ---------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (value === true) el.setAttribute(name, "");
      else el.setAttribute(name, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // replaceChildren that skips the nulls conditional parts leave behind.
  function put(el, ...children) {
    el.replaceChildren(...children.flat(Infinity).filter((c) =>
      c !== null && c !== undefined && c !== false));
  }

  function when(text) {
    if (!text) return "—";
    return text.replace("T", " ").replace(/:\d\dZ$/, " UTC");
  }

  function day(text) {
    return text ? text.slice(0, 10) : "";
  }

  function number(n) {
    return Number(n).toLocaleString("en-US");
  }

  function badge(text, tone) {
    return h("span", { class: "badge badge-" + tone }, text);
  }

  function empty(title, text) {
    return h("div", { class: "empty" }, h("strong", {}, title), text);
  }

  // The content sits in one box so that, on narrow screens where the label
  // moves beside it, the content wraps as a whole.
  function cell(label, ...content) {
    return h("td", { "data-label": label }, h("div", { class: "cell" }, ...content));
  }

  function table(headers, rows) {
    return h("div", { class: "table-wrap" },
      h("table", { class: "data" },
        h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows)));
  }

  function field(label, control, hint) {
    return h("label", { class: "field" },
      h("span", {}, label, hint ? h("span", { class: "hint" }, " " + hint) : null),
      control);
  }

  function select(name, options, value) {
    return h("select", { name },
      options.map((o) => h("option", { value: o, selected: o === value }, o)));
  }

  function alertBox(tone, content, onClose) {
    const box = h("div", { class: "alert alert-" + tone, role: tone === "error" ? "alert" : null },
      h("div", { class: "alert-text" }, content));
    if (onClose) {
      box.append(h("button", { type: "button", class: "close", "aria-label": "Dismiss",
        onclick: onClose }, "×"));
    }
    return box;
  }

  // An error from the API as readable text; snapshot problems as a list with paths.
  function errorContent(err) {
    const parts = [h("p", {}, err.message)];
    const problems = err.details && err.details.problems;
    if (Array.isArray(problems)) {
      parts.push(h("ul", { class: "problems" }, problems.map((p) => {
        const at = p.indexOf(": ");
        return at > 0
          ? h("li", {}, h("code", {}, p.slice(0, at)), " " + p.slice(at + 2))
          : h("li", {}, p);
      })));
    }
    const items = err.details && err.details.items;
    if (Array.isArray(items)) {
      parts.push(h("ul", { class: "problems" }, items.map((i) =>
        h("li", {}, `item ${i.index}, ${i.field}: ${i.problem}`))));
    }
    if (err.requestId && err.status >= 500) {
      parts.push(h("p", { class: "small" }, "Request id: ", h("code", {}, err.requestId)));
    }
    return parts;
  }

  function showError(slot, err) {
    slot.replaceChildren(alertBox("error", errorContent(err)));
    slot.hidden = false;
  }

  let flashTimer = null;
  let flashedAt = 0;
  function flash(text, tone) {
    const area = $("flash");
    clearTimeout(flashTimer);
    flashedAt = Date.now();
    area.replaceChildren(alertBox(tone || "success", text, () => area.replaceChildren()));
    if ((tone || "success") === "success") {
      flashTimer = setTimeout(() => area.replaceChildren(), 6000);
    }
  }

  // -- talking to the server ------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `The server answered ${status}.`);
      this.status = status;
      this.code = error.code || "HTTP_" + status;
      this.details = error.details;
      this.requestId = error.requestId;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") headers["X-CSRF-Token"] = state.csrf;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch("api/" + path, init);
    } catch (e) {
      throw new ApiError(0, { error: { message: "The appliance cannot be reached; check that it is running." } });
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const err = new ApiError(resp.status, data);
      if (err.code === "NOT_SIGNED_IN") signedOut("Your session has ended; sign in again.");
      throw err;
    }
    return data;
  }

  // Upload with XMLHttpRequest: fetch() cannot report upload progress.
  function upload(path, file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "api/" + path);
      xhr.setRequestHeader("X-CSRF-Token", state.csrf);
      xhr.setRequestHeader("X-File-Name", encodeURIComponent(file.name));
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total, false);
      });
      xhr.upload.addEventListener("load", () => onProgress(1, true));
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300) return resolve(data);
        const err = new ApiError(xhr.status, data);
        if (err.code === "NOT_SIGNED_IN") signedOut("Your session has ended; sign in again.");
        reject(err);
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, {
        error: { message: "The upload failed; check that the appliance is running." } })));
      xhr.send(file);
    });
  }

  // -- session ------------------------------------------------------------------------

  async function start() {
    $("signin-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("dialog-cancel").addEventListener("click", () => $("dialog").close("cancel"));
    window.addEventListener("hashchange", () => {
      // A message belongs to the screen it was shown on, unless it was shown
      // just now by the action that moved us here.
      if (Date.now() - flashedAt > 1000) $("flash").replaceChildren();
      route(true);
    });
    try {
      const session = await api("GET", "session");
      if (session.signedIn) signedIn(session);
      else showSignIn(session);
    } catch (err) {
      $("view").hidden = false;
      showError($("view"), err);
    }
  }

  function showSignIn(session, message, tone) {
    state.csrf = session.csrfToken;
    $("nav").hidden = true;
    $("who").hidden = true;
    $("view").hidden = true;
    if (session.setupRequired) {
      $("setup-command").textContent = session.setupCommand;
      $("setup").hidden = false;
      $("signin").hidden = true;
      return;
    }
    $("setup").hidden = true;
    $("signin").hidden = false;
    const slot = $("signin-error");
    if (message) {
      slot.className = "alert alert-" + (tone || "error");
      slot.replaceChildren(message);
      slot.hidden = false;
    } else {
      slot.hidden = true;
    }
    $("signin-name").focus();
  }

  async function signedOut(message, tone) {
    if (!state.admin) return;
    state.admin = null;
    $("flash").replaceChildren();
    try {
      showSignIn(await api("GET", "session"), message, tone || "info");
    } catch (err) {
      showError($("view"), err);
    }
  }

  async function signIn(event) {
    event.preventDefault();
    const button = event.target.querySelector("button[type=submit]");
    const slot = $("signin-error");
    button.disabled = true;
    button.textContent = "Signing in…";
    try {
      const session = await api("POST", "session", {
        name: $("signin-name").value.trim(),
        password: $("signin-password").value,
      });
      $("signin-password").value = "";
      signedIn(session);
    } catch (err) {
      slot.className = "alert alert-error";
      slot.replaceChildren(err.message);
      slot.hidden = false;
      $("signin-password").select();
      if (err.code === "CSRF_TOKEN_INVALID") {
        const session = await api("GET", "session").catch(() => null);
        if (session) state.csrf = session.csrfToken;
      }
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  }

  function signedIn(session) {
    state.csrf = session.csrfToken;
    state.admin = session.admin;
    $("who-name").textContent = session.admin;
    $("setup").hidden = true;
    $("signin").hidden = true;
    $("nav").hidden = false;
    $("who").hidden = false;
    $("view").hidden = false;
    route(true);
  }

  async function signOut() {
    try {
      await api("DELETE", "session");
    } catch (err) {
      if (err.code !== "NOT_SIGNED_IN") return flash(err.message, "error");
    }
    await signedOut("You are signed out.", "success");
  }

  // -- routing ---------------------------------------------------------------------------

  function route(focus) {
    if (!state.admin) return;
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    const section = parts[0] || "owners";
    for (const link of document.querySelectorAll("[data-nav]")) {
      const current = link.dataset.nav === (section === "owner" ? "owners" : section);
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    let shown;
    if (section === "owner" && parts[1]) shown = ownerView(parts[1], parts[2] || "keys");
    else if (section === "review") shown = reviewView();
    else if (section === "audit") shown = auditView();
    else shown = ownersView();
    shown.then(() => {
      if (!focus) return;
      const heading = $("view").querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
    });
    refreshReviewCount();
  }

  function render(...children) {
    put($("view"), ...children);
  }

  async function loading(work) {
    render(h("p", { class: "loading" }, "Loading…"));
    try {
      await work();
    } catch (err) {
      if (err.code !== "NOT_SIGNED_IN") render(alertBox("error", errorContent(err)));
    }
  }

  async function refreshReviewCount() {
    try {
      const data = await api("GET", "review?status=pending");
      const pill = $("nav-review-count");
      pill.textContent = String(data.items.length);
      pill.hidden = data.items.length === 0;
      pill.setAttribute("aria-label", `${data.items.length} waiting`);
    } catch (err) { /* the count is a convenience; the view shows any error */ }
  }

  // -- owners -------------------------------------------------------------------------------

  function planBadges(owner) {
    return [
      badge(owner.plan, owner.plan === "professional" ? "accent" : "neutral"), " ",
      owner.planActive ? badge("active", "ok")
        : badge(owner.status === "lapsed" ? "lapsed" : "expired", "bad"),
    ];
  }

  function ownersView() {
    return loading(async () => {
      const data = await api("GET", "owners");
      state.owners = data.owners;
      const formSlot = h("div", {});
      const rows = data.owners.map((o) => h("tr", {},
        cell("Owner", h("a", { href: "#owner/" + encodeURIComponent(o.id) }, o.name),
          h("div", { class: "small muted mono" }, o.id)),
        cell("Plan", h("span", {}, planBadges(o))),
        cell("Active until", o.activeUntil ? day(o.activeUntil) : "no end"),
        cell("Snapshots", String(o.snapshots)),
        cell("Live keys", String(o.liveKeys)),
        cell("Review", o.pendingReview ? badge(`${o.pendingReview} waiting`, "warn") : "—")));
      const toggle = h("button", { type: "button", class: "btn btn-primary",
        "aria-expanded": "false",
        onclick: () => {
          const open = formSlot.childElementCount === 0;
          toggle.setAttribute("aria-expanded", String(open));
          formSlot.replaceChildren(...(open ? [ownerForm(() => formSlot.replaceChildren())] : []));
          if (open) formSlot.querySelector("input").focus();
        } }, "Add owner");
      render(
        h("div", { class: "page-head" },
          h("div", {}, h("h1", {}, "Owners"),
            h("p", { class: "muted" }, "People whose snapshots the appliance serves.")),
          toggle),
        formSlot,
        h("div", { class: "card" }, data.owners.length
          ? table(["Owner", "Plan", "Active until", "Snapshots", "Live keys", "Review"], rows)
          : empty("No owners yet", "Add the first owner to import a snapshot and create keys.")));
    });
  }

  function ownerForm(close) {
    const error = h("div", { hidden: true });
    const form = h("form", { class: "card", novalidate: true },
      h("h2", {}, "Add an owner"), error,
      h("div", { class: "form-grid" },
        field("Name", h("input", { name: "name", required: true, maxlength: 200,
          autocomplete: "off" })),
        field("Plan", select("plan", PLANS, "professional")),
        field("Status", select("status", STATUSES, "active")),
        field("Source", select("source", SOURCES, "manual")),
        field("Active until", h("input", { name: "activeUntil", type: "date" }), "(optional)")),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "btn btn-primary" }, "Add owner"),
        h("button", { type: "button", class: "btn", onclick: close }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(form));
      await busy(form, async () => {
        const data = await api("POST", "owners", values);
        flash(`Owner ${data.owner.name} added.`);
        location.hash = "#owner/" + encodeURIComponent(data.owner.id);
      }, error);
    });
    return form;
  }

  // Run a form's action with its buttons disabled and its errors shown in `slot`.
  async function busy(form, work, slot) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    if (slot) slot.hidden = true;
    try {
      await work();
    } catch (err) {
      if (slot && err.code !== "NOT_SIGNED_IN") showError(slot, err);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  const TABS = [["keys", "Keys"], ["snapshots", "Snapshots"], ["review", "Review"],
    ["webhooks", "Webhooks"], ["plan", "Plan"]];

  function ownerView(ownerId, tab) {
    return loading(async () => {
      const data = await api("GET", "owners");
      state.owners = data.owners;
      const owner = data.owners.find((o) => o.id === ownerId);
      if (!owner) {
        render(alertBox("error", [h("p", {}, "No owner has this id. "),
          h("a", { href: "#owners" }, "Back to the owners")]));
        return;
      }
      const panel = h("div", {});
      const base = "#owner/" + encodeURIComponent(owner.id) + "/";
      render(
        h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
          h("a", { href: "#owners" }, "Owners"), " / ", owner.name),
        h("div", { class: "page-head" },
          h("div", {}, h("h1", {}, owner.name),
            h("div", { class: "meta" },
              h("span", { class: "mono" }, owner.id),
              h("span", {}, planBadges(owner)),
              h("span", {}, owner.activeUntil ? "until " + day(owner.activeUntil) : "no end date"),
              h("span", {}, `source: ${owner.source}`)))),
        h("nav", { class: "tabs", "aria-label": "Owner sections" },
          TABS.map(([id, label]) => h("a", { href: base + id,
            "aria-current": id === tab ? "page" : null }, label))),
        panel);
      const panels = { keys: keysPanel, snapshots: snapshotsPanel, review: ownerReviewPanel,
        webhooks: webhooksPanel, plan: planPanel };
      await (panels[tab] || keysPanel)(owner, panel);
    });
  }

  function planPanel(owner, panel) {
    const error = h("div", { hidden: true });
    const form = h("form", { class: "card", novalidate: true },
      h("h2", {}, "Plan"),
      h("p", { class: "muted" },
        "Keys work only while the plan is professional and active. A lapsed plan pauses every key without deleting it."),
      error,
      h("div", { class: "form-grid" },
        field("Plan", select("plan", PLANS, owner.plan)),
        field("Status", select("status", STATUSES, owner.status)),
        field("Source", select("source", SOURCES, owner.source)),
        field("Active until", h("input", { name: "activeUntil", type: "date",
          value: day(owner.activeUntil) }), "(empty: no end)")),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "btn btn-primary" }, "Save plan")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(form));
      await busy(form, async () => {
        await api("PATCH", "owners/" + encodeURIComponent(owner.id), values);
        flash("Plan saved.");
        route(false);
      }, error);
    });
    panel.replaceChildren(form);
  }

  // -- snapshots ------------------------------------------------------------------------

  async function snapshotsPanel(owner, panel) {
    const data = await api("GET", `owners/${encodeURIComponent(owner.id)}/snapshots`);
    const result = h("div", { "aria-live": "polite" });
    const file = h("input", { type: "file", name: "file", id: "snapshot-file",
      accept: ".json,.yaml,.yml,application/json,application/yaml", required: true });
    const progress = h("div", { class: "upload-progress", hidden: true },
      h("progress", { max: "100", value: "0" }), h("p", {}, ""));
    const form = h("form", { class: "card", novalidate: true },
      h("h2", {}, "Import a snapshot"),
      h("p", { class: "muted" },
        "A JSON or YAML document (schema afinitwin.snapshot/v1). Import is all or nothing: a document with problems is refused whole, with every problem listed."),
      result,
      field("Snapshot file", file),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "btn btn-primary" }, "Import snapshot")),
      progress);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      result.replaceChildren();
      if (!file.files.length) {
        result.replaceChildren(alertBox("error", "Choose a JSON or YAML file first."));
        return;
      }
      const bar = progress.querySelector("progress");
      const label = progress.querySelector("p");
      progress.hidden = false;
      bar.value = 0;
      label.textContent = "Uploading… 0%";
      await busy(form, async () => {
        try {
          const answer = await upload(`owners/${encodeURIComponent(owner.id)}/snapshots`,
            file.files[0], (fraction, done) => {
              bar.value = Math.round(fraction * 100);
              label.textContent = done ? "Validating the document…"
                : `Uploading… ${Math.round(fraction * 100)}%`;
            });
          const s = answer.snapshot;
          flash(answer.created ? `Snapshot ${s.id} imported (${s.status}).`
            : `Snapshot ${s.id} was already imported; nothing changed.`);
          route(false);
        } finally {
          progress.hidden = true;
        }
      }, result);
    });
    const rows = data.snapshots.map((s) => h("tr", {},
      cell("Snapshot", h("span", { class: "mono" }, s.id)),
      cell("Date", s.snapshotDate),
      cell("Status", badge(s.status, s.status === "ready" ? "ok"
        : s.status === "failed" ? "bad" : "warn")),
      cell("Version", s.version),
      cell("Source", s.source),
      cell("Languages", s.languages.join(", ")),
      cell("Narratives", s.hasNarratives ? "yes" : "no"),
      cell("Imported", when(s.importedAt))));
    put(panel, form, h("div", { class: "card" },
      h("div", { class: "section-head" }, h("h2", {}, "Snapshots"),
        h("span", { class: "muted small" }, "newest first")),
      data.snapshots.length
        ? table(["Snapshot", "Date", "Status", "Version", "Source", "Languages",
          "Narratives", "Imported"], rows)
        : empty("No snapshots yet", "Import this owner's first snapshot above.")));
  }

  // -- keys --------------------------------------------------------------------------------

  async function keysPanel(owner, panel, created) {
    const data = await api("GET", `owners/${encodeURIComponent(owner.id)}/keys`);
    const secretSlot = h("div", {});
    const createSlot = h("div", {});
    const rows = data.keys.map((k) => keyRow(k, owner));
    const open = h("button", { type: "button", class: "btn btn-primary",
      disabled: !owner.keysAllowed, "aria-expanded": "false",
      onclick: () => {
        const opening = createSlot.childElementCount === 0;
        open.setAttribute("aria-expanded", String(opening));
        createSlot.replaceChildren(...(opening
          ? [keyForm(owner, panel, () => createSlot.replaceChildren())] : []));
        if (opening) createSlot.querySelector("input").focus();
      } }, "Create key");
    put(panel,
      secretSlot,
      owner.keysAllowed ? null : alertBox("warning",
        "Keys can be created only while the owner's plan is professional and active. Change it under Plan."),
      createSlot,
      h("div", { class: "card" },
        h("div", { class: "section-head" }, h("h2", {}, "API keys"), open),
        data.keys.length
          ? table(["Key id", "Name", "Scopes", "Created", "Last used", "This month", "State",
            ""], rows)
          : empty("No keys yet", owner.keysAllowed
            ? "Create a key to let an integration read this owner's twin."
            : "Keys need an active professional plan.")));
    if (created) showSecret(secretSlot, {
      inputId: "new-key", value: created.plaintext, label: "The new API key",
      title: `Key ${created.key.keyId} created — copy it now`,
      warning: "This key will not be shown again.",
      why: "The appliance keeps only its hash, so it cannot show or recover it later." +
        " Store it in your integration's secret store.",
    });
  }

  function keyRow(k, owner) {
    const ratio = Math.min(k.usedThisMonth / k.monthlyQuota, 1);
    const stateTone = { live: "ok", revoked: "bad", expired: "warn" }[k.state];
    return h("tr", { class: k.state === "revoked" ? "is-revoked" : null },
      cell("Key id", h("code", {}, k.keyId)),
      cell("Name", k.name,
        k.allowedNetworks.length
          ? h("div", { class: "small muted" }, "from " + k.allowedNetworks.join(", ")) : null),
      cell("Scopes", k.scopes.join(" ")),
      cell("Created", when(k.createdAt)),
      cell("Last used", k.lastUsedAt ? when(k.lastUsedAt) : "never"),
      cell("This month", h("div", { class: "usage" },
        h("span", { class: "nowrap" }, `${number(k.usedThisMonth)} / ${number(k.monthlyQuota)}`),
        h("progress", { max: "100", value: String(Math.round(ratio * 100)),
          "aria-label": `${Math.round(ratio * 100)}% of the monthly quota used` }))),
      cell("State", badge(k.state, stateTone),
        k.expiresAt && k.state === "live"
          ? h("div", { class: "small muted" }, "expires " + day(k.expiresAt)) : null),
      h("td", { class: "actions" }, k.state === "revoked" ? null : [
        h("button", { type: "button", class: "btn btn-small",
          onclick: () => changeQuota(k) }, "Change quota"),
        h("button", { type: "button", class: "btn btn-small btn-danger-quiet",
          onclick: () => revoke(k, owner) }, "Revoke"),
      ]));
  }

  function keyForm(owner, panel, close) {
    const error = h("div", { hidden: true });
    const form = h("form", { class: "card", novalidate: true },
      h("h2", {}, "Create a key"), error,
      h("div", { class: "form-grid" },
        field("Name", h("input", { name: "name", required: true, maxlength: 100,
          placeholder: "CRM production", autocomplete: "off" })),
        field("Monthly quota", h("input", { name: "monthlyQuota", type: "number", min: 1,
          max: 1000000, step: 1, placeholder: "10000", inputmode: "numeric" }),
          "(1 to 1,000,000)"),
        field("Expires", h("input", { name: "expiresAt", type: "date" }), "(optional)")),
      h("fieldset", { class: "fieldset" },
        h("legend", {}, "Scopes"),
        h("div", { class: "checks" },
          h("label", {}, h("input", { type: "checkbox", checked: true, disabled: true }),
            "twin:read"),
          h("label", {}, h("input", { type: "checkbox", name: "write", value: "1" }),
            "twin:write (life facts and annotations)"))),
      field("Allowed networks", h("textarea", { name: "allowedNetworks", rows: 2,
        placeholder: "203.0.113.0/24" }), "(optional; one CIDR per line — empty allows any address)"),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "btn btn-primary" }, "Create key"),
        h("button", { type: "button", class: "btn", onclick: close }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(new FormData(form));
      const body = {
        name: values.name,
        scopes: values.write ? ["twin:read", "twin:write"] : ["twin:read"],
        monthlyQuota: values.monthlyQuota || null,
        expiresAt: values.expiresAt || null,
        allowedNetworks: values.allowedNetworks || [],
      };
      await busy(form, async () => {
        const data = await api("POST", `owners/${encodeURIComponent(owner.id)}/keys`, body);
        await keysPanel(owner, panel, data);
      }, error);
    });
    return form;
  }

  // A secret exists on the page only in this box, until it is dismissed:
  // a new key's plaintext or a new webhook endpoint's signing secret.
  function showSecret(slot, secret) {
    const input = h("input", { id: secret.inputId, readonly: true, value: secret.value,
      "aria-label": secret.label, spellcheck: "false" });
    const copied = h("span", { class: "small", role: "status" }, "");
    const copy = h("button", { type: "button", class: "btn btn-primary", onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (e) {
        document.execCommand("copy");
      }
      copied.textContent = "Copied to the clipboard.";
    } }, "Copy");
    const box = h("section", { class: "secret", "aria-labelledby": secret.inputId + "-title" },
      h("h3", { id: secret.inputId + "-title" }, secret.title),
      h("p", {}, h("strong", {}, secret.warning), " " + secret.why),
      h("div", { class: "secret-row" }, input, copy),
      copied,
      h("div", { class: "form-actions" },
        h("button", { type: "button", class: "btn", onclick: () => box.remove() },
          "I have stored it")));
    slot.replaceChildren(box);
    input.focus();
    input.select();
  }

  function dialog(title, body, okLabel, okTone, action) {
    const dlg = $("dialog");
    $("dialog-title").textContent = title;
    $("dialog-body").replaceChildren(...body);
    const ok = $("dialog-ok");
    ok.textContent = okLabel;
    ok.className = "btn " + (okTone === "danger" ? "btn-danger" : "btn-primary");
    const error = $("dialog-error");
    error.hidden = true;
    const form = $("dialog-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      ok.disabled = true;
      try {
        await action();
        dlg.close("ok");
      } catch (err) {
        error.replaceChildren(err.message);
        error.hidden = false;
      } finally {
        ok.disabled = false;
      }
    };
    dlg.showModal();
    const first = $("dialog-body").querySelector("input");
    (first || $("dialog-cancel")).focus();
  }

  function revoke(k, owner) {
    dialog(`Revoke key ${k.keyId}?`, [
      h("p", {}, `“${k.name}” will be refused from its very next request. This cannot be undone; the integration will need a new key.`),
    ], "Revoke key", "danger", async () => {
      await api("POST", `keys/${encodeURIComponent(k.keyId)}/revoke`);
      flash(`Key ${k.keyId} revoked.`);
      route(false);
    });
  }

  function changeQuota(k) {
    const input = h("input", { type: "number", min: 1, max: 1000000, step: 1,
      value: String(k.monthlyQuota), id: "quota-input", inputmode: "numeric" });
    dialog(`Monthly quota of ${k.keyId}`, [
      h("p", { class: "muted" }, `Used this month: ${number(k.usedThisMonth)}.`),
      field("Requests a month", input, "(1 to 1,000,000)"),
    ], "Save quota", "primary", async () => {
      await api("PATCH", `keys/${encodeURIComponent(k.keyId)}`, { monthlyQuota: input.value });
      flash(`Quota of ${k.keyId} set to ${number(input.value)} a month.`);
      route(false);
    });
  }

  // -- webhooks ----------------------------------------------------------------------------

  async function webhooksPanel(owner, panel, created) {
    const base = `owners/${encodeURIComponent(owner.id)}/`;
    const [data, sent] = await Promise.all([api("GET", base + "webhooks"),
      api("GET", base + "deliveries")]);
    const secretSlot = h("div", {});
    const formSlot = h("div", {});
    const open = h("button", { type: "button", class: "btn btn-primary", "aria-expanded": "false",
      onclick: () => {
        const opening = formSlot.childElementCount === 0;
        open.setAttribute("aria-expanded", String(opening));
        formSlot.replaceChildren(...(opening
          ? [webhookForm(owner, panel, data.events, () => formSlot.replaceChildren())] : []));
        if (opening) formSlot.querySelector("input").focus();
      } }, "Add endpoint");
    const rows = data.endpoints.map((e) => h("tr", { class: e.enabled ? null : "is-revoked" },
      cell("Endpoint", h("code", {}, e.endpointId)),
      cell("URL", h("span", { class: "mono" }, e.url)),
      cell("Events", e.events.length === data.events.length ? "all"
        : h("span", { class: "small" }, e.events.join(" "))),
      cell("Created", when(e.createdAt)),
      cell("State", e.enabled ? badge("enabled", "ok") : badge("disabled", "neutral")),
      h("td", { class: "actions" },
        h("button", { type: "button", class: "btn btn-small", disabled: !e.enabled,
          onclick: () => sendTest(e) }, "Send test"),
        h("button", { type: "button", class: "btn btn-small",
          onclick: () => toggleWebhook(e) }, e.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "btn btn-small btn-danger-quiet",
          onclick: () => removeWebhook(e) }, "Remove"))));
    put(panel,
      secretSlot,
      formSlot,
      h("div", { class: "card" },
        h("div", { class: "section-head" }, h("h2", {}, "Webhook endpoints"), open),
        h("p", { class: "muted" },
          "Each delivery is signed with the endpoint's secret (X-AfiniTwin-Signature and the Standard Webhooks headers) and retried for about a day."),
        data.endpoints.length
          ? table(["Endpoint", "URL", "Events", "Created", "State", ""], rows)
          : empty("No webhook endpoints yet",
            "Add one to tell a CRM when a snapshot is ready, a key is revoked or a quota runs low.")),
      h("div", { class: "card" },
        h("div", { class: "section-head" }, h("h2", {}, "Recent deliveries"),
          h("button", { type: "button", class: "btn btn-small", onclick: () => route(false) },
            "Refresh")),
        sent.deliveries.length
          ? table(["Delivery", "Event", "Status", "Attempts", "Next attempt"],
            sent.deliveries.map(deliveryRow))
          : empty("No deliveries yet", "Events and tests sent to this owner's endpoints appear here.")));
    if (created) showSecret(secretSlot, {
      inputId: "new-webhook-secret", value: created.secret,
      label: "The new endpoint's signing secret",
      title: `Endpoint ${created.endpoint.endpointId} added — copy its secret now`,
      warning: "This secret will not be shown again.",
      why: "The receiver needs it to verify each delivery's signature" +
        " (with the SDK: verify_webhook_signature).",
    });
  }

  function deliveryRow(d) {
    const tone = { delivered: "ok", failed: "bad", pending: "warn" }[d.status];
    return h("tr", {},
      cell("Delivery", h("code", {}, d.deliveryId),
        h("div", { class: "small muted" }, "to " + d.endpointId + ", " + when(d.createdAt))),
      cell("Event", h("code", {}, d.event)),
      cell("Status", badge(d.status, tone)),
      cell("Attempts", d.history.length
        ? h("ol", { class: "attempts small" }, d.history.map((a) => h("li", {},
          h("span", { class: "nowrap" }, when(a.at)), " — ",
          a.error || String(a.statusCode), ` (${a.durationMs} ms)`)))
        : "none yet"),
      cell("Next attempt", d.status === "pending" ? when(d.nextAttemptAt) : "—"));
  }

  function webhookForm(owner, panel, events, close) {
    const error = h("div", { hidden: true });
    const form = h("form", { class: "card", novalidate: true },
      h("h2", {}, "Add a webhook endpoint"), error,
      field("URL", h("input", { name: "url", required: true, maxlength: 2000, type: "url",
        autocomplete: "off", spellcheck: "false" }),
        "(http or https; no user name or password in it)"),
      h("fieldset", { class: "fieldset" },
        h("legend", {}, "Events"),
        h("p", { class: "small muted" }, "None ticked sends every event."),
        h("div", { class: "checks" }, events.map((name) =>
          h("label", {}, h("input", { type: "checkbox", name: "events", value: name }),
            name)))),
      h("div", { class: "form-actions" },
        h("button", { type: "submit", class: "btn btn-primary" }, "Add endpoint"),
        h("button", { type: "button", class: "btn", onclick: close }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = new FormData(form);
      const body = { url: values.get("url"), events: values.getAll("events") };
      await busy(form, async () => {
        const data = await api("POST", `owners/${encodeURIComponent(owner.id)}/webhooks`,
          body);
        await webhooksPanel(owner, panel, data);
      }, error);
    });
    return form;
  }

  async function sendTest(e) {
    try {
      const data = await api("POST", `webhooks/${encodeURIComponent(e.endpointId)}/test`);
      flash(`Test delivery ${data.deliveryId} queued; refresh to see its attempts.`);
      route(false);
    } catch (err) {
      flash(err.message, "error");
    }
  }

  async function toggleWebhook(e) {
    try {
      await api("PATCH", `webhooks/${encodeURIComponent(e.endpointId)}`,
        { enabled: !e.enabled });
      flash(`Endpoint ${e.endpointId} ${e.enabled ? "disabled" : "enabled"}.`);
      route(false);
    } catch (err) {
      flash(err.message, "error");
    }
  }

  function removeWebhook(e) {
    dialog(`Remove endpoint ${e.endpointId}?`, [
      h("p", {}, `Deliveries to ${e.url} stop, and their history is deleted with it. This cannot be undone.`),
    ], "Remove endpoint", "danger", async () => {
      await api("DELETE", `webhooks/${encodeURIComponent(e.endpointId)}`);
      flash(`Endpoint ${e.endpointId} removed.`);
      route(false);
    });
  }

  // -- review queue ------------------------------------------------------------------------

  function reviewItem(item, ownersById, onDecided) {
    const p = item.payload || {};
    const isFact = item.kind === "life_fact";
    const owner = ownersById && ownersById[item.ownerId];
    const decide = (status) => async (event) => {
      event.target.disabled = true;
      try {
        await api("PATCH", "review/" + item.id, { status });
        flash(`${isFact ? "Life fact" : "Annotation"} ${status}.`);
        onDecided();
      } catch (err) {
        event.target.disabled = false;
        flash(err.message, "error");
      }
    };
    return h("li", { class: "item" },
      h("div", { class: "item-body" },
        h("div", {}, badge(isFact ? "life fact" : "annotation", "accent"), " ",
          isFact ? badge(`${p.category} · ${p.valence}`, "neutral") : badge(p.tag, "neutral"),
          item.status !== "pending"
            ? [" ", badge(item.status, item.status === "accepted" ? "ok" : "neutral")] : null),
        h("p", { class: "item-text" }, isFact ? p.value : p.text),
        h("div", { class: "item-meta" },
          owner ? h("span", {}, "Owner: ", h("a", { href: `#owner/${encodeURIComponent(owner.id)}/review` }, owner.name)) : null,
          h("span", {}, "From key ", h("code", {}, item.keyId)),
          item.externalRef ? h("span", {}, "Ref ", h("code", {}, item.externalRef)) : null,
          typeof p.confidence === "number" ? h("span", {}, `Confidence ${p.confidence}`) : null,
          h("span", {}, when(item.createdAt)))),
      item.status === "pending" ? h("div", { class: "item-actions" },
        h("button", { type: "button", class: "btn btn-small btn-primary",
          onclick: decide("accepted") }, "Accept"),
        h("button", { type: "button", class: "btn btn-small", onclick: decide("dismissed") },
          "Dismiss")) : null);
  }

  async function reviewList(query, ownersById, slot, emptyText) {
    const data = await api("GET", "review?" + query);
    slot.replaceChildren(data.items.length
      ? h("ul", { class: "items" }, data.items.map((i) => reviewItem(i, ownersById, () => {
        route(false);
      })))
      : empty("Nothing to review", emptyText));
  }

  function statusFilter(value, onChange) {
    const control = select("status", ["pending", "accepted", "dismissed", "all"], value);
    control.addEventListener("change", () => onChange(control.value));
    return h("label", { class: "filter" }, h("span", {}, "Show"), control);
  }

  async function ownerReviewPanel(owner, panel) {
    const slot = h("div", {});
    let status = "pending";
    const load = () => reviewList(`owner=${encodeURIComponent(owner.id)}&status=${status}`,
      null, slot, status === "pending"
        ? "No life facts or annotations are waiting for this owner."
        : "No items with this status.");
    put(panel, h("div", { class: "card" },
      h("div", { class: "section-head" }, h("h2", {}, "Review queue"),
        statusFilter(status, (v) => { status = v; load(); })),
      h("p", { class: "muted" },
        "Life facts and annotations sent by integrations wait here; nothing enters a snapshot by itself."),
      slot));
    await load();
  }

  function reviewView() {
    return loading(async () => {
      const owners = (await api("GET", "owners")).owners;
      const byId = Object.fromEntries(owners.map((o) => [o.id, o]));
      const slot = h("div", {});
      let status = "pending";
      const load = () => reviewList("status=" + status, byId, slot, status === "pending"
        ? "No life facts or annotations are waiting. Integrations send them with POST /life-facts and /annotations."
        : "No items with this status.");
      render(
        h("div", { class: "page-head" },
          h("div", {}, h("h1", {}, "Review queue"),
            h("p", { class: "muted" }, "Proposals from integrations, for every owner, newest first.")),
          statusFilter(status, (v) => { status = v; load(); })),
        h("div", { class: "card" }, slot));
      await load();
    });
  }

  // -- audit log ------------------------------------------------------------------------------

  function details(d) {
    return Object.entries(d || {}).map(([k, v]) =>
      `${k}=${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`).join("  ") || "—";
  }

  function auditRows(entries) {
    return entries.map((e) => h("tr", {},
      cell("When", h("span", { class: "nowrap" }, when(e.at))),
      cell("Admin", e.admin),
      cell("Action", h("code", {}, e.action)),
      cell("Target", h("span", { class: "mono" }, e.target)),
      cell("From", e.address),
      cell("Details", h("span", { class: "audit-details" }, details(e.details)))));
  }

  function auditView() {
    return loading(async () => {
      const data = await api("GET", "audit");
      const body = h("tbody", {}, auditRows(data.entries));
      const more = h("div", { class: "more" });
      const addMore = (next) => {
        more.replaceChildren(next ? h("button", { type: "button", class: "btn",
          onclick: async (event) => {
            event.target.disabled = true;
            const page = await api("GET", "audit?before=" + next);
            body.append(...auditRows(page.entries));
            addMore(page.next);
          } }, "Show older entries") : "");
      };
      addMore(data.next);
      render(
        h("div", { class: "page-head" },
          h("div", {}, h("h1", {}, "Audit log"),
            h("p", { class: "muted" }, "Every admin action, newest first. Entries are never changed or removed."))),
        h("div", { class: "card" }, data.entries.length
          ? h("div", { class: "table-wrap" }, h("table", { class: "data" },
            h("thead", {}, h("tr", {}, ["When", "Admin", "Action", "Target", "From", "Details"]
              .map((t) => h("th", { scope: "col" }, t)))), body))
          : empty("No entries yet", "Admin actions will be listed here."), more));
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
