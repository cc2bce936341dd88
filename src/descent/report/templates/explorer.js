// The slider explorer of the report page (inlined once): wires every .explorer on the page.
(function () {
  function mse(x, y, w, b) {
    var s = 0;
    for (var i = 0; i < x.length; i++) { var r = y[i] - (w * x[i] + b); s += r * r; }
    return s / x.length;
  }
  function fmt(v) { return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toPrecision(5); }
  function setup(root) {
    var d = JSON.parse(root.querySelector('.explorer-data').textContent);
    var ws = root.querySelector('.explorer-w'), bs = root.querySelector('.explorer-b');
    var out = root.querySelector('.explorer-readout');
    var lineDiv = root.querySelector('.explorer-line'), contourDiv = root.querySelector('.explorer-contour');
    var n = d.steps - 1;
    function val(r, i) { return r[0] + (r[1] - r[0]) * i / n; }
    function idx(r, v) { return Math.max(0, Math.min(n, Math.round((v - r[0]) / (r[1] - r[0]) * n))); }
    var xmin = Math.min.apply(null, d.x), xmax = Math.max.apply(null, d.x);
    var ymin = Math.min.apply(null, d.y), ymax = Math.max.apply(null, d.y), pad = 0.15 * (ymax - ymin);
    Plotly.newPlot(lineDiv, [
      {x: d.x, y: d.y, mode: 'markers', type: 'scatter', name: 'data', marker: {color: '#999', size: 5}},
      {x: [xmin, xmax], y: [0, 0], mode: 'lines', type: 'scatter', name: 'w·x + b', line: {color: '#d62728', width: 3}}
    ], {title: {text: 'line over the data (raw units)', font: {size: 13}}, height: 360,
        margin: {l: 55, r: 10, t: 40, b: 45}, xaxis: {title: {text: d.labels[0]}},
        yaxis: {title: {text: d.labels[1]}, range: [ymin - pad, ymax + pad]}, showlegend: false},
      {displaylogo: false, responsive: true});
    Plotly.newPlot(contourDiv, [
      {x: d.grid.w, y: d.grid.b, z: d.grid.log10_mse, type: 'contour', colorscale: 'Viridis', ncontours: 25,
       colorbar: {title: {text: 'log10 MSE'}}, hovertemplate: 'w=%{x:.4g}<br>b=%{y:.4g}<br>log10 MSE=%{z:.4g}<extra></extra>'},
      {x: [d.lstsq[0]], y: [d.lstsq[1]], mode: 'markers', type: 'scatter', name: 'least squares',
       marker: {symbol: 'star', size: 14, color: 'white', line: {color: 'black', width: 1}}},
      {x: [0], y: [0], mode: 'markers', type: 'scatter', name: '(w, b)', marker: {size: 11, color: '#d62728'}}
    ], {title: {text: 'MSE over (w, b)', font: {size: 13}}, height: 360, margin: {l: 55, r: 10, t: 40, b: 45},
        xaxis: {title: {text: 'w'}}, yaxis: {title: {text: 'b'}}, showlegend: false},
      {displaylogo: false, responsive: true});
    // (w, b) from the sliders, or exactly the point given (the start, least squares), whose
    // sliders then sit at the nearest position.
    function update(w, b) {
      if (w === undefined) { w = val(d.w_range, +ws.value); b = val(d.b_range, +bs.value); }
      var y0 = w * xmin + b, y1 = w * xmax + b;
      Plotly.restyle(lineDiv, {y: [[y0, y1]]}, [1]);
      // The y axis always holds the data and the line, so the line is never drawn off the plot.
      Plotly.relayout(lineDiv, {'yaxis.range': [Math.min(ymin - pad, y0, y1), Math.max(ymax + pad, y0, y1)]});
      Plotly.restyle(contourDiv, {x: [[w]], y: [[b]]}, [2]);
      var m = mse(d.x, d.y, w, b);
      out.textContent = 'w = ' + fmt(w) + ', b = ' + fmt(b) + ', MSE = ' + fmt(m) +
        (d.x.length < d.n_total ? ' (over ' + d.x.length + ' of ' + d.n_total + ' points)' : '');
      root.setAttribute('data-mse', String(m));
      root.setAttribute('data-w', String(w)); root.setAttribute('data-b', String(b));
    }
    function go(p) { ws.value = idx(d.w_range, p[0]); bs.value = idx(d.b_range, p[1]); update(p[0], p[1]); }
    function slide() { update(); }
    ws.addEventListener('input', slide); bs.addEventListener('input', slide);
    root.querySelector('.explorer-reset').addEventListener('click', function () { go(d.start); });
    root.querySelector('.explorer-best').addEventListener('click', function () { go(d.lstsq); });
    go(d.start);
  }
  document.querySelectorAll('.explorer').forEach(setup);
})();
