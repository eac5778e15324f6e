"""The leaderboard page's shell: inline CSS and the table-sorting script (no network)."""

from string import Template

# Clicking a header sorts that table's rows by the cell's data-v (a number: the mean) when
# present, else by text; a second click reverses. Missing numbers stay last either way, and
# ties keep their previous order (stable sort).
SORT_JS = r"""
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
"""

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { cursor: pointer; background: #f3f3f3; position: sticky; top: 0; user-select: none; }
th[data-dir=asc]::after { content: " \\25B2"; } th[data-dir=desc]::after { content: " \\25BC"; }
td.t, th.t { text-align: left; }
.wrap { overflow-x: auto; } img { max-width: 100%; border: 1px solid #eee; } pre { background: #f7f7f7; padding: 1em; }
.note { color: #666; font-size: 13px; }
"""

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
