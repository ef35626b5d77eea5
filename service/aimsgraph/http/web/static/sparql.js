// The SPARQL page: CodeMirror on the query box, named queries loaded from the page, results
// fetched from /sparql (SPARQL 1.1 Protocol, JSON results) and shown as a table.
(function () {
  "use strict";
  var form = document.getElementById("query-form");
  var textarea = document.getElementById("query");
  var status = document.getElementById("status");
  var results = document.getElementById("results");
  var picker = document.getElementById("named");
  var description = document.getElementById("named-description");
  var named = JSON.parse(document.getElementById("named-queries").textContent);

  var editor = CodeMirror.fromTextArea(textarea, {
    mode: "application/sparql-query",
    lineNumbers: true,
    viewportMargin: Infinity,
    // Tab moves the focus on, as in any form field; Ctrl+Enter runs the query
    extraKeys: { "Tab": false, "Shift-Tab": false, "Ctrl-Enter": run, "Cmd-Enter": run },
    screenReaderLabel: "SPARQL query"
  });
  document.querySelector("label[for=query]").addEventListener("click", function () { editor.focus(); });

  function load(name) {
    var entry = named[name];
    if (!entry) { description.textContent = ""; return; }
    editor.setValue(entry.text);
    var option = picker.options[picker.selectedIndex];
    var text = option ? option.getAttribute("data-description") : "";
    if (entry.parameters.length) {
      text += " Parameters: bind " + entry.parameters.map(function (v) { return "?" + v; }).join(", ") +
        " with a VALUES clause or replace them with a value before running.";
    }
    description.textContent = text;
  }

  picker.addEventListener("change", function () { load(picker.value); });
  if (picker.value) { load(picker.value); }

  form.addEventListener("submit", function (event) { event.preventDefault(); run(); });

  function run() {
    editor.save();
    status.textContent = "Running…";
    results.textContent = "";
    var started = performance.now();
    fetch("/sparql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/sparql-results+json, text/turtle;q=0.9" },
      body: new URLSearchParams({ query: editor.getValue() })
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      return response.text().then(function (body) {
        var seconds = ((performance.now() - started) / 1000).toFixed(2);
        if (!response.ok) {
          status.textContent = "";
          showError("The query failed (" + response.status + "): " + body.trim());
        } else if (type.indexOf("json") >= 0) {
          showJson(JSON.parse(body), seconds, response.headers.get("X-Aimsgraph-Result-Truncated"));
        } else {
          status.textContent = "Done in " + seconds + " s.";
          var pre = document.createElement("pre");
          pre.textContent = body;
          results.appendChild(pre);
        }
      });
    }).catch(function (error) {
      status.textContent = "";
      showError("The query could not be sent: " + error);
    });
  }

  function showError(message) {
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = message;
    results.appendChild(p);
  }

  function showJson(data, seconds, truncated) {
    if (typeof data.boolean === "boolean") {
      status.textContent = "Done in " + seconds + " s.";
      var answer = document.createElement("p");
      answer.id = "ask-answer";
      answer.textContent = data.boolean ? "Yes (true)" : "No (false)";
      results.appendChild(answer);
      return;
    }
    var vars = data.head.vars, rows = data.results.bindings;
    status.textContent = rows.length + " row" + (rows.length === 1 ? "" : "s") + " in " + seconds + " s." +
      (truncated ? " The result was cut at the service's limit." : "");
    var table = document.createElement("table");
    table.id = "result-table";
    var head = table.createTHead().insertRow();
    vars.forEach(function (name) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      head.appendChild(th);
    });
    var body = table.createTBody();
    rows.forEach(function (binding) {
      var tr = body.insertRow();
      vars.forEach(function (name) {
        var cell = tr.insertCell();
        var term = binding[name];
        if (term) {
          cell.textContent = term.type === "uri" ? "<" + term.value + ">" : term.value;
          if (term.type === "uri") { cell.className = "iri"; }
        }
      });
    });
    results.appendChild(table);
  }
}());
