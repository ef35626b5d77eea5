// The SPARQL page: YASGUI (static/vendor/yasgui) on this service's /sparql, one tab per named
// query. Its settings come from the page's data-config attribute (web.sparql_page): the page's
// policy runs no inline script. Nothing here talks to any host but this one.
(function () {
  "use strict";
  var root = document.getElementById("yasgui");
  var config = JSON.parse(root.getAttribute("data-config"));
  var picker = document.getElementById("named");
  var description = document.getElementById("named-description");
  var endpoint = new URL(config.endpoint, window.location.href).href;
  var byId = {};
  config.tabs.forEach(function (q) { byId[tabId(q.name)] = q; });

  // YASQE's completers for classes and properties ask lov.linkeddata.es, and its prefix completer
  // knows prefix.cc's list; this one completes the prefixes of this service, and the variables.
  var lines = Object.keys(config.prefixes).map(function (p) { return p + ": <" + config.prefixes[p] + ">"; });
  Yasgui.Yasqe.forkAutocompleter("prefixes", { name: "servicePrefixes", get: lines, persistenceId: null }, false);
  // set on the defaults, not passed in the settings: Yasgui merges arrays item by item, so a
  // shorter list would keep the defaults' tail (the completers that call out)
  Yasgui.defaults.yasqe.autocompleters = ["variables", "servicePrefixes"];

  var yasgui = new Yasgui(root, {
    persistenceId: null, // nothing kept in the browser: the tabs are the service's queries, as they are now
    populateFromUrl: false, // a link cannot set the endpoint or the query
    autoAddOnInit: false,
    tabName: "Query",
    requestConfig: { endpoint: endpoint, method: "POST" },
    endpointCatalogueOptions: { getData: function () { return []; } },
    endpointInfo: endpointNote,
    yasqe: {
      value: config.example,
      editorHeight: "18rem",
      // Tab moves the focus on, as in any form field, rather than trap the keyboard in the editor
      extraKeys: { "Tab": false, "Shift-Tab": false }
    },
    yasr: { prefixes: config.prefixes }
  });

  // in name order; the one in the address (?name=) is on show, and only it is drawn for now
  config.tabs.forEach(function (q) { addTab(q, q.name === config.initial); });
  describe(yasgui.getTab());
  annotate();

  yasgui.on("tabSelect", function (_, id) { describe(yasgui.getTab(id)); });
  yasgui.on("tabAdd", function () { window.setTimeout(function () { describe(yasgui.getTab()); }, 0); });
  picker.addEventListener("change", function () {
    var id = tabId(picker.value);
    if (yasgui.getTab(id)) { yasgui.selectTabId(id); } else { addTab(byId[id], true); } // its tab was closed
  });
  new MutationObserver(annotate).observe(root, { childList: true, subtree: true });

  function tabId(name) { return "query-" + name; }

  function addTab(q, active) {
    yasgui.addTab(active, { id: tabId(q.name), name: q.name, yasqe: { value: q.text } });
    yasgui.tabElements.get(tabId(q.name)).tabEl.title = q.summary;
  }

  // The endpoint cannot be changed here (CSS hides YASGUI's field): say where queries go instead.
  function endpointNote() {
    var note = document.createElement("span");
    note.className = "endpoint-note";
    note.textContent = "Endpoint: ";
    var link = document.createElement("a");
    link.href = endpoint;
    link.textContent = endpoint;
    note.appendChild(link);
    return note;
  }

  function describe(tab) {
    var q = tab && byId[tab.getId()];
    picker.value = q ? q.name : "";
    if (tab) { reveal(tab.getId()); }
    if (!q) { description.textContent = ""; return; }
    var text = q.description || q.summary;
    if (q.parameters.length) {
      text += " Parameters: bind " + q.parameters.map(function (v) { return "?" + v; }).join(", ") +
        " with a VALUES clause or replace them with a value before running.";
    }
    description.textContent = text;
  }

  // On a phone the tabs are one row that scrolls sideways: bring the one on show into it.
  function reveal(id) {
    var list = root.querySelector(".tabsList");
    var tab = yasgui.tabElements.get(id).tabEl;
    var left = tab.getBoundingClientRect().left - list.getBoundingClientRect().left;
    if (left < 0 || left + tab.offsetWidth > list.clientWidth) { list.scrollLeft += left; }
  }

  // YASGUI leaves some controls without a name for screen readers, and its answers unannounced.
  function annotate() {
    var names = [
      [".CodeMirror textarea", "SPARQL query"],
      ["input.autocomplete", "Endpoint"],
      [".tab input", "Tab name"],
      ["select.tableSizer", "Rows per page"],
      [".tabMenu select", "Accept header"],
      [".tabMenu input", "Request setting"]
    ];
    names.forEach(function (pair) {
      root.querySelectorAll(pair[0]).forEach(function (control) {
        if (!control.getAttribute("aria-label") && !(control.labels && control.labels.length)) {
          control.setAttribute("aria-label", pair[1]);
        }
      });
    });
    root.querySelectorAll(".yasr_response_chip").forEach(function (chip) { chip.setAttribute("role", "status"); });
    root.querySelectorAll(".yasr .errorResult").forEach(function (error) { error.setAttribute("role", "alert"); });
  }
}());
