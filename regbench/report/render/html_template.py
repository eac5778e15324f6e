"""The leaderboard page's shell: inline CSS and script (no network).

The script does four things: sorts a table by a clicked header (by the cell's data-v
number when present, else by text; a second click reverses; missing numbers stay last;
ties keep their order), shows or hides a column group when its checkbox changes (a
class on <body>), switches the benchmark tabs, and filters rows by the search box.
"""

from string import Template

from regbench.report.table.column_choice import GROUPS

SCRIPT = r"""
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("data-dir") !== "asc";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", asc ? "asc" : "desc");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows).map(function (r, i) { return [r, i]; });
      function key(r) {
        var c = r.cells[col], v = c.getAttribute("data-v");
        if (v === null) return c.textContent;
        return v === "" ? null : parseFloat(v);
      }
      rows.sort(function (a, b) {
        var x = key(a[0]), y = key(b[0]);
        if (x === null || y === null) return (x === null) - (y === null) || a[1] - b[1];
        var d = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
        return (asc ? d : -d) || a[1] - b[1];
      });
      rows.forEach(function (p) { body.appendChild(p[0]); });
    });
  });
});
document.querySelectorAll("input.group").forEach(function (box) {
  box.addEventListener("change", function () {
    document.body.classList.toggle("show-" + box.value, box.checked);
  });
});
document.querySelectorAll("button.tab").forEach(function (button) {
  button.addEventListener("click", function () {
    document.querySelectorAll("button.tab").forEach(function (b) { b.classList.toggle("active", b === button); });
    document.querySelectorAll("section.panel").forEach(function (p) {
      p.hidden = p.id !== "panel-" + button.getAttribute("data-tab");
    });
  });
});
document.getElementById("search").addEventListener("input", function (e) {
  var q = e.target.value.trim().toLowerCase();
  document.querySelectorAll("table.sortable tbody tr").forEach(function (r) {
    r.hidden = q !== "" && r.querySelector("td.name").textContent.toLowerCase().indexOf(q) < 0;
  });
});
"""

# one rule per group: its hidden (x) columns show once <body> has show-<group>
GROUP_CSS = "\n".join(f"body.show-{g} .x.g-{g} {{ display: table-cell; }}" for g in GROUPS)

CSS = (
    """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; }
table { border-collapse: separate; border-spacing: 0; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; background: #fff; }
th { cursor: pointer; background: #f3f3f3; position: sticky; top: 0; z-index: 2; user-select: none; }
th[data-dir=asc]::after { content: " \\25B2"; } th[data-dir=desc]::after { content: " \\25BC"; }
td.t, th.t { text-align: left; }
.rank { position: sticky; left: 0; z-index: 1; width: 3.2em; min-width: 3.2em; max-width: 3.2em; }
.name { position: sticky; left: calc(3.2em + 16px); z-index: 1; max-width: 14em; overflow: hidden;
        text-overflow: ellipsis; border-right: 1px solid #ddd; }
th.rank, th.name { z-index: 3; }
.x { display: none; }
.ci { color: #777; font-size: 0.9em; }
.wrap { overflow: auto; max-height: 85vh; max-width: 100%; margin: 0.5em 0 1em; }
.controls { display: flex; flex-wrap: wrap; gap: 0.5em 1.2em; align-items: center; font-size: 14px; margin: 1em 0 0.5em; }
.controls label { white-space: nowrap; margin-right: 0.6em; }
#search { font-size: 14px; padding: 3px 6px; min-width: 12em; }
.tabs { display: flex; flex-wrap: wrap; gap: 4px; border-bottom: 1px solid #ccc; margin-top: 0.5em; }
.tabs button { font: inherit; font-size: 13px; padding: 4px 10px; border: 1px solid #ccc; border-bottom: none;
               background: #f3f3f3; cursor: pointer; border-radius: 4px 4px 0 0; }
.tabs button.active { background: #fff; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; } pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
.note { color: #666; font-size: 13px; }
figure { margin: 1em 0; } figcaption { font-weight: 600; margin-bottom: 0.3em; }
@media (max-width: 600px) {
  body { padding: 0 0.5em; margin-top: 0.8em; }
  table { font-size: 12px; }
  th, td { padding: 3px 4px; }
  th { white-space: normal; }
  .ci { display: none; }
  .name { max-width: 7.5em; left: calc(1.6em + 8px); }
}
"""
    + GROUP_CSS
    + "\n"
)

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$css</style>
</head>
<body>
$body
<script>$js</script>
</body>
</html>
"""
)
