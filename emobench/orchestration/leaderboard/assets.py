"""The site's only style sheet and script, inlined into every page (no network, no CDN).

The script sorts a table by the column whose header is clicked (numbers by their
``data-value``, the rest as text; a second click reverses) and applies a sort given in the
address, ``#sort=<table id>:<column index>:<asc|desc>``, so that a sorted view can be linked.
"""

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px;
       padding: 0 1em; color: #1b1b1b; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; text-align: right;
         white-space: nowrap; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " \\25B2"; } th.sorted-desc::after { content: " \\25BC"; }
td.name, th.name { text-align: left; }
td.partial { color: #8a5a00; background: #fff6e0; font-style: italic; }
td.missing { color: #999; text-align: center; }
.flag { color: #b00020; font-weight: 600; }
.caption { color: #444; font-size: 0.92em; max-width: 75em; }
.caption li { margin: 0.15em 0; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
pre { background: #f7f7f7; padding: 0.7em; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 1em; }
"""

JS = """
(function () {
  function value(cell) {
    var v = cell.getAttribute('data-value');
    if (v !== null && v !== '' && !isNaN(parseFloat(v))) { return parseFloat(v); }
    return null;
  }
  function sortTable(table, column, ascending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column], y = b.cells[column];
      var vx = value(x), vy = value(y);
      if (vx === null && vy === null) {
        var tx = x.textContent, ty = y.textContent;
        return ascending ? tx.localeCompare(ty) : ty.localeCompare(tx);
      }
      if (vx === null) { return 1; }  /* missing values last either way */
      if (vy === null) { return -1; }
      return ascending ? vx - vy : vy - vx;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) {
      heads[i].classList.remove('sorted-asc', 'sorted-desc');
    }
    heads[column].classList.add(ascending ? 'sorted-asc' : 'sorted-desc');
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (head, column) {
      head.addEventListener('click', function () {
        var ascending = !head.classList.contains('sorted-asc');
        sortTable(table, column, ascending);
      });
    });
  });
  var match = /sort=([A-Za-z0-9_-]+):(\\d+):(asc|desc)/.exec(window.location.hash);
  if (match) {
    var table = document.getElementById(match[1]);
    if (table) { sortTable(table, parseInt(match[2], 10), match[3] === 'asc'); }
  }
})();
"""
