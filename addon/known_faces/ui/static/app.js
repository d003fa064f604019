// Known Faces web UI: the few things pages do in the browser. Every change goes through the
// HTTP API (relative URLs under the page's <base>, so ingress works) with the page's CSRF token;
// everything shown that came from the API is set as text, never as HTML.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

function notice(text, isError) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.classList.toggle("error", Boolean(isError));
  box.hidden = !text;
}

async function api(method, url, body) {
  const headers = { "X-CSRF-Token": csrf };
  if (body !== undefined && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const answer = await fetch(url, { method, headers, body, credentials: "same-origin" });
  const data = answer.status === 204 ? null : await answer.json().catch(() => null);
  if (!answer.ok) {
    throw new Error((data && data.message) || `${answer.status} ${answer.statusText}`);
  }
  return data;
}

function relative(url) {
  // The API may answer with absolute paths; under ingress only relative ones reach us.
  return String(url).replace(/^\/+/, "");
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

async function run(action, done) {
  try {
    notice("Working…");
    const result = await action();
    if (done) await done(result);
  } catch (err) {
    notice(err.message, true);
  }
}

function reloadWith(message) {
  sessionStorage.setItem("known-faces-notice", message);
  location.reload();
}

// -- people ------------------------------------------------------------------------------
const WARNINGS = {
  does_not_match_person: "this photo does not resemble the person's other photos; check it is them.",
};

function warningsOf(answer) {
  const warnings = (answer && (answer.warnings || answer.warning
    || (answer.face && answer.face.warnings))) || [];
  return (Array.isArray(warnings) ? warnings : [warnings]).map((w) =>
    typeof w === "string" ? WARNINGS[w] || w : w.message || JSON.stringify(w));
}

function onEnroll(form, url) {
  const data = new FormData();
  data.append("file", form.elements.file.files[0]);
  // A photo unlike the person's other photos is refused unless the user says it is them.
  if (form.elements.force && form.elements.force.checked) url += "&force=true";
  run(() => api("POST", url, data), (answer) => {
    const warnings = warningsOf(answer);
    const who = answer.person ? answer.person.name : "the person";
    reloadWith(`Added a photo of ${who}.` + (warnings.length ? " Warning: " + warnings.join(" ") : ""));
  });
}

const formActions = {
  enroll(form) {
    const name = form.elements.name.value;
    onEnroll(form, `api/v1/enroll?source=ui&name=${encodeURIComponent(name)}`);
  },
  "add-face"(form) {
    onEnroll(form, `api/v1/people/${encodeURIComponent(form.dataset.slug)}/faces?source=ui`);
  },
  rename(form) {
    const name = form.elements.name.value;
    run(() => api("PATCH", `api/v1/people/${encodeURIComponent(form.dataset.slug)}`, { name }),
      (person) => reloadWith(`Renamed to ${person.name}.`));
  },
  "camera-enroll"(form) {
    const body = { face: Number(form.dataset.face), name: form.elements.name.value };
    run(() => api("POST", `cameras/${encodeURIComponent(form.dataset.camera)}/enroll`, body),
      (answer) => reloadWith(`Added a photo of ${answer.person.name}.`));
  },
  search(form) {
    const data = new FormData();
    data.append("file", form.elements.file.files[0]);
    run(() => api("POST", "api/v1/search", data), (answer) => { notice(""); showSearch(answer); });
  },
};

const buttonActions = {
  "delete-face"(button) {
    if (!confirm("Delete this photo?")) return;
    const { slug, face } = button.dataset;
    run(() => api("DELETE", `api/v1/people/${encodeURIComponent(slug)}/faces/${face}`),
      () => reloadWith("Photo deleted."));
  },
  forget(button) {
    if (!confirm(`Forget ${button.dataset.name} with every photo?`)) return;
    run(() => api("DELETE", `api/v1/people/${encodeURIComponent(button.dataset.slug)}`),
      () => { location.href = "./"; });
  },
  logout() {
    run(() => fetch("logout", { method: "POST", headers: { "X-CSRF-Token": csrf } }),
      () => { location.href = "login"; });
  },
  merge() {
    const picked = [...document.querySelectorAll('input[name="merge"]:checked')].map((c) => c.value);
    if (picked.length !== 2) return;
    run(() => api("POST", `api/v1/visitors/${encodeURIComponent(picked[0])}/merge`, { into: picked[1] }),
      () => reloadWith(`Merged ${picked[0]} into ${picked[1]}.`));
  },
  "visitor-assign"(button) {
    const id = button.dataset.visitor;
    const input = document.getElementById(`assign-${id}`);
    const name = input.value.trim();
    if (!name) { input.focus(); return; }
    const option = [...document.querySelectorAll("#people-names option")].find((o) => o.value === name);
    const body = option && option.dataset.slug ? { person: option.dataset.slug } : { name };
    run(() => api("POST", `api/v1/visitors/${encodeURIComponent(id)}/assign`, body),
      () => reloadWith(`Assigned ${id} to ${name}.`));
  },
  "visitor-ignore"(button) {
    const id = button.dataset.visitor;
    run(() => api("POST", `api/v1/visitors/${encodeURIComponent(id)}/ignore`), () => reloadWith(`Ignoring ${id}.`));
  },
  "visitor-unignore"(button) {
    const id = button.dataset.visitor;
    run(() => api("DELETE", `api/v1/visitors/${encodeURIComponent(id)}/ignore`), () => reloadWith(`No longer ignoring ${id}.`));
  },
  "visitor-forget"(button) {
    const id = button.dataset.visitor;
    if (!confirm(`Forget visitor ${id} with every crop?`)) return;
    run(() => api("DELETE", `api/v1/visitors/${encodeURIComponent(id)}`), () => reloadWith(`Forgot ${id}.`));
  },
};

// -- visitors (DESIGN §9) ------------------------------------------------------------------
function visitorId(v) {
  return String(v.id || v.visitor);
}

function visitorCard(v, status) {
  const id = visitorId(v);
  const sightings = Array.isArray(v.sightings) ? v.sightings.length : v.sightings;
  const cameras = Array.isArray(v.cameras) ? v.cameras.join(", ") : v.cameras || "";
  const actions = element("div", { class: "row" });
  if (status === "pending") {
    actions.append(
      element("label", { class: "check" }, element("input", { type: "checkbox", name: "merge", value: id }), " select"),
      element("label", { for: `assign-${id}`, class: "sr-only" }, `Name for ${id}`),
      element("input", { id: `assign-${id}`, list: "people-names", placeholder: "person or new name", maxlength: "100" }),
      element("button", { type: "button", class: "primary", "data-action": "visitor-assign", "data-visitor": id }, "Assign"),
      element("button", { type: "button", "data-action": "visitor-ignore", "data-visitor": id }, "Ignore"));
  } else {
    actions.append(element("button", { type: "button", "data-action": "visitor-unignore", "data-visitor": id }, "Stop ignoring"));
  }
  actions.append(element("button", { type: "button", class: "danger", "data-action": "visitor-forget", "data-visitor": id }, "Forget"));
  return element("li", { class: "visitor", "data-visitor": id },
    element("img", { src: v.crop_url ? relative(v.crop_url) : `api/v1/visitors/${encodeURIComponent(id)}/crop`, alt: `Best crop of visitor ${id}`, width: "96", height: "96" }),
    element("div", {},
      element("p", { class: "who" }, element("code", {}, id), ` · ${sightings ?? "?"} sighting${sightings === 1 ? "" : "s"}`),
      element("p", { class: "meta" }, `first ${String(v.first_seen || "").slice(0, 16).replace("T", " ")} · last ${String(v.last_seen || "").slice(0, 16).replace("T", " ")}${cameras ? " · " + cameras : ""}`),
      actions));
}

// One page of a status's visitors; "Show more" appends the next (a busy street makes thousands).
async function loadVisitors(list, offset = 0) {
  const status = list.dataset.visitors;
  const more = list.nextElementSibling?.matches("p.more") ? list.nextElementSibling : null;
  try {
    const answer = await api("GET", `api/v1/visitors?status=${status}&limit=${list.dataset.pageSize}&offset=${offset}`);
    const cards = answer.visitors.map((v) => visitorCard(v, status));
    if (offset === 0) list.replaceChildren(...cards);
    else list.append(...cards);
    if (!cards.length && offset === 0) list.append(element("li", { class: "empty" }, status === "pending" ? "Nobody awaits review." : "Nobody is ignored."));
    more?.remove();
    if (answer.next_offset !== null) {
      const button = element("button", { type: "button" }, `Show more (${list.children.length} of ${answer.total} shown)`);
      button.addEventListener("click", () => loadVisitors(list, answer.next_offset));
      list.after(element("p", { class: "more" }, button));
    }
  } catch (err) {
    const failed = element("li", { class: "error" }, err.message);
    if (offset === 0) list.replaceChildren(failed);
    else list.append(failed);
  }
}

function onMergeSelection() {
  const button = document.querySelector('[data-action="merge"]');
  if (button) button.disabled = document.querySelectorAll('input[name="merge"]:checked').length !== 2;
}

// -- search (DESIGN §9) --------------------------------------------------------------------
function showSearch(answer) {
  const target = document.getElementById("search-results");
  const faces = (answer && answer.faces) || [];
  const cards = faces.map((face, i) => {
    const hits = face.sightings || face.matches || [];
    const items = hits.map((s) => element("li", { class: "event" },
      s.crop_url || s.crop ? element("img", { src: relative(s.crop_url || s.crop), alt: `Sighting on ${s.camera}`, width: "96", height: "96" }) : null,
      element("div", {},
        element("p", { class: "who" }, s.name || s.person || (s.visitor ? `Visitor ${s.visitor}` : "Unknown")),
        element("p", { class: "meta" }, `${s.camera || "?"} · ${String(s.time || "").slice(0, 19).replace("T", " ")} · score ${Number(s.score || 0).toFixed(2)}`))));
    const people = (face.people || []).map((p) => `${p.name || p.person} ${Number(p.score ?? p.similarity ?? 0).toFixed(2)}`);
    const visitors = (face.visitors || []).map((v) => `${visitorId(v)} ${Number(v.score ?? 0).toFixed(2)}`);
    return element("section", { class: "card" },
      element("h2", {}, `Face ${i + 1}`),
      people.length ? element("p", {}, "People: " + people.join(", ")) : null,
      visitors.length ? element("p", {}, "Visitors: " + visitors.join(", ")) : null,
      items.length ? element("ol", { class: "events" }, ...items) : element("p", { class: "empty" }, "Never seen before."));
  });
  target.replaceChildren(...(cards.length ? cards : [element("p", { class: "empty" }, "No face found in that photo.")]));
}

// -- events: live feed ---------------------------------------------------------------------
function followEvents(list) {
  const empty = document.getElementById("events-empty");
  async function poll() {
    try {
      const answer = await fetch(`${list.dataset.feed}&after=${list.dataset.last}`, { credentials: "same-origin" });
      if (answer.ok) {
        const data = await answer.json();
        if (data.html.trim()) {
          list.insertAdjacentHTML("afterbegin", data.html);
          empty.hidden = true;
        }
        list.dataset.last = data.last;
      }
    } catch (err) {
      // The service restarting: try again at the next tick.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
}

// -- wiring --------------------------------------------------------------------------------
document.addEventListener("submit", (event) => {
  const form = event.target;
  const action = formActions[form.dataset.action];
  if (action) {
    event.preventDefault();
    action(form);
  }
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  const action = button && buttonActions[button.dataset.action];
  if (action) action(button);
});

document.addEventListener("change", (event) => {
  if (event.target.name === "merge") onMergeSelection();
});

document.addEventListener("DOMContentLoaded", () => {
  const kept = sessionStorage.getItem("known-faces-notice");
  if (kept) {
    sessionStorage.removeItem("known-faces-notice");
    notice(kept);
  }
  const events = document.getElementById("events");
  if (events) followEvents(events);
  document.querySelectorAll("[data-visitors]").forEach((list) => loadVisitors(list));
});
