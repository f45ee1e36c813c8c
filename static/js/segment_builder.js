// Segment builder: a visual editor for the rule tree, its JSON view, and a live preview.
//
// The tree lives in one object; the builder edits it in place and writes it to the rules
// textarea (the form field, and the JSON view), and typing valid JSON there rebuilds the
// builder. Fields, operators and value shapes come from the catalog the page embeds with
// json_script (segments/catalog.py), so the script holds no text and no list of fields.
(function () {
  "use strict";

  const root = document.getElementById("rule-builder");
  const catalogElement = document.getElementById("segment-catalog");
  const textarea = document.getElementById("id_rules");
  if (!root || !catalogElement || !textarea) {
    return;
  }

  const catalog = JSON.parse(catalogElement.textContent);
  const T = catalog.text;
  const form = document.getElementById("segment-form");
  const jsonBox = document.getElementById("rules-json");
  const jsonToggle = document.getElementById("json-toggle");
  const jsonError = document.getElementById("rules-json-error");
  const serverError = document.getElementById("rules-error");
  const preview = document.getElementById("preview");
  const previewCount = document.getElementById("preview-count");
  const previewLabel = document.getElementById("preview-count-label");
  const previewError = document.getElementById("preview-error");
  const previewSample = document.getElementById("preview-sample");
  const previewUrl = root.dataset.previewUrl;
  const segmentId = root.dataset.segmentId ? Number(root.dataset.segmentId) : null;
  const csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const GROUP_KEYS = ["all", "any", "not"];

  const fieldsByName = new Map(catalog.fields.map((f) => [f.name, f]));
  const familiesByPrefix = new Map(catalog.families.map((f) => [f.prefix, f]));

  const initialText = textarea.value.trim();
  let tree = initialText ? parseOr(initialText, undefined) : { all: [] };
  const initialJsonBroken = tree === undefined;
  if (initialJsonBroken) tree = { all: [] };
  let lastGoodTree = tree;

  // --- small DOM helpers ------------------------------------------------------------------

  function el(tag, attributes, children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") element.textContent = value;
      else if (key === "className") element.className = value;
      else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children || []) {
      if (child) element.append(child);
    }
    return element;
  }

  function option(value, label, selected) {
    const o = el("option", { value: value, text: label });
    o.selected = Boolean(selected);
    return o;
  }

  function parseOr(text, fallback) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return fallback;
    }
  }

  function join(path, part) {
    return path ? `${path}.${part}` : part;
  }

  function groupKey(node) {
    if (!node || typeof node !== "object" || Array.isArray(node)) return null;
    const keys = Object.keys(node);
    return keys.length === 1 && GROUP_KEYS.includes(keys[0]) ? keys[0] : null;
  }

  // --- the catalog ------------------------------------------------------------------------

  function specOf(name) {
    if (typeof name !== "string") return null;
    if (fieldsByName.has(name)) return { spec: fieldsByName.get(name), key: null };
    const dot = name.indexOf(".");
    if (dot > 0 && familiesByPrefix.has(name.slice(0, dot))) {
      return { spec: familiesByPrefix.get(name.slice(0, dot)), key: name.slice(dot + 1) };
    }
    return null;
  }

  function operatorOf(spec, op) {
    return spec.operators.find((o) => o.op === op) || null;
  }

  function defaultValue(shape) {
    switch (shape.kind) {
      case "none":
        return undefined;
      case "boolean":
        return true;
      case "month":
        return new Date().getMonth() + 1;
      case "list":
      case "segments":
        return [];
      case "between":
        return [null, null];
      case "object":
        return {};
      case "segment":
        return catalog.segments.length ? catalog.segments[0].id : null;
      case "integer":
      case "number":
      case "money":
      case "json":
        return null;
      default:
        return "";
    }
  }

  function newCondition() {
    const spec = catalog.fields[0];
    const op = spec.operators[0];
    const node = { field: spec.name, op: op.op };
    setValue(node, defaultValue(op.value));
    return node;
  }

  function setValue(node, value) {
    if (value === undefined) delete node.value;
    else node.value = value;
  }

  // --- value parsing: what an input's text means for a shape --------------------------------

  function parseItem(shape, text, type) {
    const trimmed = String(text).trim();
    switch (shape.kind) {
      case "integer":
      case "segment": {
        if (trimmed === "") return null;
        const n = Number(trimmed);
        return Number.isFinite(n) ? n : trimmed;
      }
      case "number": {
        if (trimmed === "") return null;
        const n = Number(trimmed);
        return Number.isFinite(n) ? n : trimmed;
      }
      case "money": {
        if (trimmed === "") return null;
        const n = Number(trimmed);
        return Number.isFinite(n) ? Math.round(n * Math.pow(10, shape.digits)) : trimmed;
      }
      case "country":
        return trimmed.toUpperCase();
      case "scalar":
        if (type === "number") {
          const n = Number(trimmed);
          return trimmed !== "" && Number.isFinite(n) ? n : trimmed;
        }
        if (type === "boolean") return trimmed === "true";
        return text;
      default:
        return text;
    }
  }

  function showItem(shape, value) {
    if (value === null || value === undefined) return "";
    if (shape.kind === "money" && typeof value === "number") {
      return String(value / Math.pow(10, shape.digits));
    }
    if (shape.kind === "date" && typeof value === "string") return value.slice(0, 10);
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function scalarType(value) {
    if (typeof value === "boolean") return "boolean";
    if (typeof value === "number") return "number";
    return "text";
  }

  // --- value editors ----------------------------------------------------------------------

  // Each editor reads the current value and calls write(newValue) on every change.
  function inputFor(shape, value, label, write, key) {
    const common = { "aria-label": label, "data-key": key, className: "rule-input" };
    switch (shape.kind) {
      case "boolean": {
        const select = el("select", { ...common, onchange: () => write(select.value === "true") });
        select.append(option("true", T.yes, value === true), option("false", T.no, value === false));
        return select;
      }
      case "month": {
        const select = el("select", { ...common, onchange: () => write(Number(select.value)) });
        catalog.months.forEach((name, i) => select.append(option(i + 1, name, value === i + 1)));
        return select;
      }
      case "segment": {
        const select = el("select", {
          ...common,
          onchange: () => write(select.value ? Number(select.value) : null),
        });
        select.append(option("", T.choose_segment, value === null));
        for (const s of catalog.segments) select.append(option(s.id, s.name, value === s.id));
        return select;
      }
      case "segments": {
        const chosen = Array.isArray(value) ? value : [];
        const select = el("select", {
          ...common,
          multiple: true,
          size: Math.min(4, Math.max(2, catalog.segments.length)),
          onchange: () => write(Array.from(select.selectedOptions, (o) => Number(o.value))),
        });
        for (const s of catalog.segments) select.append(option(s.id, s.name, chosen.includes(s.id)));
        return select;
      }
      case "properties": {
        const shown = value && typeof value === "object"
          ? Object.entries(value).map(([k, v]) => `${k}=${v}`).join(", ")
          : "";
        const input = el("input", {
          ...common,
          type: "text",
          value: shown,
          placeholder: "category=kids",
          oninput: () => {
            const properties = {};
            for (const pair of input.value.split(",")) {
              const at = pair.indexOf("=");
              if (at > 0) properties[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
            }
            write(Object.keys(properties).length ? properties : undefined);
          },
        });
        return input;
      }
      case "json": {
        const input = el("input", {
          ...common,
          type: "text",
          className: "rule-input code",
          value: value === null || value === undefined ? "" : JSON.stringify(value),
          oninput: () => write(parseOr(input.value, input.value)),
        });
        return input;
      }
      default: {
        const attributes = { ...common, value: showItem(shape, value) };
        if (shape.kind === "integer") {
          Object.assign(attributes, { type: "number", step: 1, inputmode: "numeric" });
          attributes.min = shape.min;
          attributes.max = shape.max;
        } else if (shape.kind === "number") {
          Object.assign(attributes, { type: "number", step: "any" });
        } else if (shape.kind === "money") {
          Object.assign(attributes, { type: "number", step: 1 / Math.pow(10, shape.digits), min: 0 });
        } else if (shape.kind === "date") {
          attributes.type = "date";
        } else if (shape.kind === "country") {
          Object.assign(attributes, {
            type: "text",
            maxlength: 2,
            size: 3,
            autocomplete: "off",
            className: "rule-input rule-input--short",
            placeholder: "IE",
          });
        } else {
          attributes.type = "text";
        }
        const input = el("input", attributes);
        input.addEventListener("input", () => write(parseItem(shape, input.value)));
        const wrap = [];
        if (shape.kind === "money") wrap.push(el("span", { className: "rule-unit", text: shape.currency }));
        wrap.push(input);
        if (shape.unit) wrap.push(el("span", { className: "rule-unit", text: T[shape.unit] || shape.unit }));
        return wrap.length === 1 ? input : el("span", { className: "rule-inline" }, wrap);
      }
    }
  }

  function valueEditor(node, shape, fieldLabel, path) {
    const key = (part) => `${path}:value${part}`;
    const write = (value) => {
      setValue(node, value);
      changed();
    };
    const label = `${fieldLabel}: ${T.value}`;
    switch (shape.kind) {
      case "none":
        return null;
      case "list": {
        const items = Array.isArray(node.value) ? node.value : [];
        let type = shape.item.kind === "scalar" ? scalarType(items[0]) : null;
        if (type === "boolean") type = "text";
        const input = el("input", {
          type: "text",
          className: "rule-input rule-input--wide",
          "aria-label": label,
          "data-key": key(""),
          placeholder: T.list_hint,
          title: T.list_hint,
          value: items.map((v) => showItem(shape.item, v)).join(", "),
        });
        const read = () => input.value.split(",").filter((p) => p.trim() !== "")
          .map((p) => parseItem(shape.item, shape.item.kind === "scalar" ? p.trim() : p.trim(), type));
        input.addEventListener("input", () => write(read()));
        const parts = [input];
        if (type) {
          const select = el("select", {
            className: "rule-input",
            "aria-label": `${fieldLabel}: ${T.value_type}`,
            "data-key": key(":type"),
            onchange: () => {
              type = select.value;
              write(read());
            },
          });
          select.append(option("text", T.text, type === "text"), option("number", T.number, type === "number"));
          parts.unshift(select);
        }
        return el("span", { className: "rule-inline" }, parts);
      }
      case "between": {
        const pair = Array.isArray(node.value) && node.value.length === 2 ? node.value.slice() : [null, null];
        const side = (i, caption) => inputFor(shape.item, pair[i], `${fieldLabel}: ${caption}`, (v) => {
          pair[i] = v;
          write(pair.slice());
        }, key(`[${i}]`));
        return el("span", { className: "rule-inline" }, [
          side(0, T.from),
          el("span", { className: "rule-unit", text: T.and }),
          side(1, T.to),
        ]);
      }
      case "object": {
        const object = node.value && typeof node.value === "object" && !Array.isArray(node.value)
          ? node.value
          : {};
        if (object !== node.value) setValue(node, object);
        const parts = shape.keys.map((entry) => {
          const caption = entry.label || entry.key;
          const input = inputFor(entry.value, object[entry.key], `${fieldLabel}: ${caption}`, (v) => {
            if (v === null || v === undefined || (v === "" && !entry.required)) delete object[entry.key];
            else object[entry.key] = v;
            write(object);
          }, key(`.${entry.key}`));
          const id = `rule-${(path || "root").replace(/[^A-Za-z0-9]/g, "-")}-${entry.key}`;
          const control = input.tagName === "SPAN" ? input.querySelector("input, select") : input;
          control.id = id;
          control.removeAttribute("aria-label");
          return el("span", { className: "rule-sub", "data-subpath": `value.${entry.key}` }, [
            el("label", { for: id, className: "rule-sub__label", text: caption }),
            input,
          ]);
        });
        return el("span", { className: "rule-inline rule-inline--wrap" }, parts);
      }
      case "scalar": {
        let type = scalarType(node.value);
        const select = el("select", {
          className: "rule-input",
          "aria-label": `${fieldLabel}: ${T.value_type}`,
          "data-key": key(":type"),
          onchange: () => {
            type = select.value;
            const current = node.value;
            if (type === "boolean") write(true);
            else write(parseItem(shape, current === undefined || current === null ? "" : String(current), type));
            render();
          },
        });
        select.append(
          option("text", T.text, type === "text"),
          option("number", T.number, type === "number"),
          option("boolean", T.boolean, type === "boolean"),
        );
        let input;
        if (type === "boolean") {
          input = inputFor({ kind: "boolean" }, node.value, label, write, key(""));
        } else {
          input = el("input", {
            type: type === "number" ? "number" : "text",
            step: type === "number" ? "any" : null,
            className: "rule-input",
            "aria-label": label,
            "data-key": key(""),
            value: node.value === undefined || node.value === null ? "" : String(node.value),
          });
          input.addEventListener("input", () => write(parseItem(shape, input.value, type)));
        }
        return el("span", { className: "rule-inline" }, [select, input]);
      }
      default:
        return inputFor(shape, node.value, label, write, key(""));
    }
  }

  // --- nodes --------------------------------------------------------------------------------

  function removeButton(caption, onclick) {
    return el("button", {
      type: "button",
      className: "icon-button",
      "aria-label": caption,
      title: caption,
      text: "×",
      onclick: onclick,
    });
  }

  function errorSlot() {
    return el("p", { className: "rule-error", hidden: true });
  }

  function renderCondition(node, path, remove) {
    const found = specOf(node.field);
    const item = el("li", { className: "rule-condition", "data-path": path });
    if (!found) {
      item.classList.add("rule-condition--raw");
      item.append(
        el("div", { className: "rule-row" }, [
          el("code", { className: "rule-raw", text: JSON.stringify(node) }),
          remove ? removeButton(T.remove_condition, remove) : null,
        ]),
        el("p", { className: "muted small", text: T.unsupported }),
        errorSlot(),
      );
      return item;
    }
    const { spec, key } = found;
    const fieldLabel = spec.label + (key !== null ? ` “${key}”` : "");

    const fieldSelect = el("select", {
      className: "rule-input rule-field",
      "aria-label": T.field,
      "data-key": `${path}:field`,
      onchange: () => {
        const chosen = fieldSelect.value;
        const family = chosen.startsWith("family:") ? familiesByPrefix.get(chosen.slice(7)) : null;
        const next = family || fieldsByName.get(chosen);
        node.field = family ? `${family.prefix}.${key || ""}` : chosen;
        // Keep the operator when the new field has it too ("is" stays "is").
        const op = operatorOf(next, node.op) || next.operators[0];
        const sameShape = operatorOf(spec, node.op) &&
          JSON.stringify(operatorOf(spec, node.op).value) === JSON.stringify(op.value);
        node.op = op.op;
        if (!sameShape) setValue(node, defaultValue(op.value));
        changed();
        render();
      },
    });
    for (const [section, sectionLabel] of Object.entries(catalog.sections)) {
      const group = el("optgroup", { label: sectionLabel });
      for (const f of catalog.fields) {
        if (f.section === section) group.append(option(f.name, f.label, key === null && f.name === node.field));
      }
      for (const f of catalog.families) {
        if (f.section === section) group.append(option(`family:${f.prefix}`, f.label, key !== null && f === spec));
      }
      if (group.children.length) fieldSelect.append(group);
    }

    const parts = [fieldSelect];
    if (key !== null) {
      const keyInput = el("input", {
        type: "text",
        className: "rule-input rule-input--key",
        "aria-label": T.key,
        placeholder: T.key_placeholder,
        "data-key": `${path}:key`,
        value: key,
        oninput: () => {
          node.field = `${spec.prefix}.${keyInput.value.trim()}`;
          changed();
        },
      });
      parts.push(keyInput);
    }

    const operator = operatorOf(spec, node.op);
    const opSelect = el("select", {
      className: "rule-input rule-op",
      "aria-label": `${fieldLabel}: ${T.operator}`,
      "data-key": `${path}:op`,
      onchange: () => {
        const next = operatorOf(spec, opSelect.value);
        const before = operator ? JSON.stringify(operator.value) : "";
        node.op = next.op;
        if (JSON.stringify(next.value) !== before) setValue(node, defaultValue(next.value));
        changed();
        render();
      },
    });
    if (!operator) opSelect.append(option(node.op, String(node.op), true));
    for (const o of spec.operators) opSelect.append(option(o.op, o.label, o.op === node.op));
    parts.push(opSelect);

    if (operator) {
      const editor = valueEditor(node, operator.value, fieldLabel, path);
      if (editor) parts.push(el("span", { className: "rule-value" }, [editor]));
    }

    item.append(
      el("div", { className: "rule-row" }, [
        el("div", { className: "rule-row__controls" }, parts),
        remove ? removeButton(T.remove_condition, remove) : null,
      ]),
      errorSlot(),
    );
    return item;
  }

  function renderGroup(node, path, remove, parentKey) {
    const kind = groupKey(node);
    const children = kind === "not" ? (node.not ? [node.not] : []) : node[kind];
    const box = el("li", { className: `rule-group rule-group--${kind}`, "data-path": path });

    const kindSelect = el("select", {
      className: "rule-input rule-group__kind",
      "aria-label": T.group_kind,
      "data-key": `${path}:group`,
      onchange: () => switchGroup(node, kindSelect.value),
    });
    for (const k of GROUP_KEYS) kindSelect.append(option(k, catalog.groups[k], k === kind));

    const canAdd = kind !== "not" || !node.not;
    const add = (child) => () => {
      if (kind === "not") node.not = child;
      else node[kind].push(child);
      changed();
      render(`${kind === "not" ? join(path, "not") : join(path, `${kind}[${node[kind].length - 1}]`)}:first`);
    };
    const header = el("div", { className: "rule-group__header" }, [
      kindSelect,
      canAdd
        ? el("span", { className: "rule-group__actions" }, [
            el("button", {
              type: "button",
              className: "button button--quiet button--small",
              text: `+ ${T.add_condition}`,
              onclick: add(newCondition()),
            }),
            el("button", {
              type: "button",
              className: "button button--quiet button--small",
              text: `+ ${T.add_group}`,
              // An "any" inside an "all" is the usual reason to nest; and the reverse.
              onclick: add(kind === "any" ? { all: [] } : { any: [] }),
            }),
          ])
        : null,
      remove ? removeButton(T.remove_group, remove) : null,
    ]);
    box.append(header, errorSlot());

    const list = el("ol", { className: "rule-children" });
    children.forEach((child, i) => {
      const childPath = kind === "not" ? join(path, "not") : join(path, `${kind}[${i}]`);
      const removeChild = () => {
        if (kind === "not") node.not = null;
        else node[kind].splice(i, 1);
        changed();
        render();
      };
      list.append(renderNode(child, childPath, removeChild, kind));
    });
    if (!children.length) {
      list.append(el("li", { className: "rule-empty muted small", text: kind === "not" ? T.empty_not : T.empty_group }));
    }
    box.append(list);
    return box;
  }

  function switchGroup(node, next) {
    const kind = groupKey(node);
    if (kind === next) return;
    let children = kind === "not" ? (node.not ? [node.not] : []) : node[kind];
    delete node[kind];
    if (next === "not") {
      node.not = children.length === 0 ? null : children.length === 1 ? children[0] : { all: children };
    } else {
      node[next] = children;
    }
    changed();
    render();
  }

  function renderNode(node, path, remove, parentKey) {
    if (groupKey(node)) return renderGroup(node, path, remove, parentKey);
    if (node && typeof node === "object" && !Array.isArray(node) && ("field" in node || "op" in node)) {
      return renderCondition(node, path, remove);
    }
    // Neither a group nor a condition: shown raw, so that nothing typed in JSON is lost.
    return el("li", { className: "rule-condition rule-condition--raw", "data-path": path }, [
      el("div", { className: "rule-row" }, [
        el("code", { className: "rule-raw", text: JSON.stringify(node) }),
        remove ? removeButton(T.remove_condition, remove) : null,
      ]),
      errorSlot(),
    ]);
  }

  // --- rendering, syncing, preview -----------------------------------------------------------

  function render(focusKey) {
    const active = document.activeElement;
    const keep = focusKey || (root.contains(active) && active.dataset ? active.dataset.key : null);
    const list = el("ol", { className: "rule-children rule-children--root" }, [renderNode(tree, "", null, null)]);
    root.replaceChildren(list);
    if (keep && keep.endsWith(":first")) {
      const node = root.querySelector(`[data-path="${CSS.escape(keep.slice(0, -6))}"]`);
      const first = node && node.querySelector("select, input");
      if (first) first.focus();
    } else if (keep) {
      const again = root.querySelector(`[data-key="${CSS.escape(keep)}"]`);
      if (again) again.focus();
    }
  }

  function changed() {
    textarea.value = JSON.stringify(tree, null, 2);
    jsonError.hidden = true;
    lastGoodTree = tree;
    schedulePreview();
  }

  textarea.addEventListener("input", () => {
    let parsed;
    try {
      parsed = JSON.parse(textarea.value);
    } catch (e) {
      jsonError.textContent = T.json_invalid + e.message;
      jsonError.hidden = false;
      return;
    }
    jsonError.hidden = true;
    tree = parsed;
    lastGoodTree = tree;
    render();
    schedulePreview();
  });

  function clearErrors() {
    for (const slot of root.querySelectorAll(".rule-error")) {
      slot.hidden = true;
      slot.textContent = "";
    }
    for (const node of root.querySelectorAll(".has-error")) node.classList.remove("has-error");
    previewError.hidden = true;
    previewError.textContent = "";
  }

  // The server's path ("all[1].any[0].value.min_count") names the node and then a place
  // inside its value; the nearest node the builder drew gets the message.
  function placeError(error) {
    clearErrors();
    if (!error) return;
    const parts = error.path ? error.path.split(".") : [];
    for (let n = parts.length; n > 0; n--) {
      const path = parts.slice(0, n).join(".");
      const node = root.querySelector(`[data-path="${CSS.escape(path)}"]`);
      if (node) {
        const slot = node.querySelector(":scope > .rule-error");
        // Beside the node, the path at the start of the message says nothing new.
        const prefix = `${error.path}: `;
        slot.textContent = error.message.startsWith(prefix)
          ? error.message.slice(prefix.length)
          : error.message;
        slot.hidden = false;
        node.classList.add("has-error");
        return;
      }
    }
    previewError.textContent = error.message;
    previewError.hidden = false;
  }

  let timer = null;
  let sequence = 0;
  let inflight = null;

  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(runPreview, 350);
  }

  async function runPreview() {
    const mine = ++sequence;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    preview.setAttribute("aria-busy", "true");
    previewLabel.textContent = T.previewing;
    let answer;
    try {
      const response = await fetch(previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ rules: lastGoodTree, segment: segmentId }),
        signal: inflight.signal,
      });
      answer = await response.json();
    } catch (e) {
      if (e.name === "AbortError") return;
      answer = { count: null, sample: [], error: { message: T.preview_failed, path: "" } };
    }
    if (mine !== sequence) return;
    preview.removeAttribute("aria-busy");
    showPreview(answer);
  }

  function showPreview(answer) {
    previewSample.replaceChildren();
    if (answer.error) {
      previewCount.textContent = "–";
      previewLabel.textContent = T.matching;
      placeError(answer.error);
      return;
    }
    placeError(null);
    // The stored form error was about the submitted tree; this one is valid.
    serverError.hidden = true;
    previewCount.textContent = new Intl.NumberFormat(document.documentElement.lang || undefined)
      .format(answer.count);
    previewLabel.textContent = answer.label || (answer.count === 1 ? T.matching_one : T.matching);
    if (!answer.sample.length) {
      previewSample.append(el("tr", {}, [el("td", { colspan: 2, className: "muted", text: T.no_sample })]));
    }
    for (const customer of answer.sample) {
      const who = el("th", { scope: "row" }, [
        el("span", { className: "sample__name", text: customer.name || customer.source_id }),
        el("span", { className: "sample__meta muted", text: customer.email || customer.source_id }),
      ]);
      const place = [customer.city, customer.country].filter(Boolean).join(", ");
      previewSample.append(el("tr", { "data-source-id": customer.source_id }, [who, el("td", { text: place })]));
    }
  }

  // --- the JSON view and the kind switch -------------------------------------------------------

  jsonToggle.hidden = false;
  jsonBox.classList.add("rules-json--collapsed");
  jsonToggle.addEventListener("click", () => {
    const open = jsonToggle.getAttribute("aria-pressed") !== "true";
    jsonToggle.setAttribute("aria-pressed", String(open));
    jsonBox.classList.toggle("rules-json--collapsed", !open);
    if (open) textarea.focus();
  });
  // Submitted text that is not JSON is easier to fix with the JSON in view.
  if (initialJsonBroken) {
    jsonToggle.click();
  }

  const kindInputs = form.querySelectorAll("input[name=kind]");
  function showKind() {
    const checked = form.querySelector("input[name=kind]:checked");
    const kind = checked ? checked.value : "dynamic";
    for (const part of document.querySelectorAll("[data-show-for-kind]")) {
      part.hidden = part.dataset.showForKind !== kind;
    }
  }
  kindInputs.forEach((input) => input.addEventListener("change", showKind));
  showKind();

  const initialError = JSON.parse(document.getElementById("segment-rules-error").textContent);
  render();
  if (initialError) placeError(initialError);
  if (!initialJsonBroken) schedulePreview();
})();
