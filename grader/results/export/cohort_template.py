"""The Jinja2 template of cohort.html (autoescaped; no ``|safe`` anywhere)."""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title | clean }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; }
.bar { fill: #4a7bd0; } .axis { stroke: #888; } .chart text { font-size: 11px; fill: #333; }
.rate { background: #eee; height: .8rem; width: 10rem; display: inline-block; }
.rate span { background: #3a9b5c; height: 100%; display: block; }
.warn { background: #fff4e0; border-left: 4px solid #e0a030; padding: .5rem 1rem; }
.error { color: #a02040; }
</style>
</head>
<body>
<h1>{{ title | clean }}</h1>
<p id="summary">{{ stats.graded }} graded, {{ stats.passed }} passed, {{ stats.errors }} errors{% if stats.pending %},
{{ stats.pending }} not graded yet{% endif %}. Mean score {{ percent(stats.mean_percent) }},
median {{ percent(stats.median_percent) }}.</p>

<h2>Score distribution</h2>
<svg class="chart" role="img" aria-label="Score distribution" width="{{ chart.width }}" height="{{ chart.height }}"
     viewBox="0 0 {{ chart.width }} {{ chart.height }}" xmlns="http://www.w3.org/2000/svg">
<line class="axis" x1="{{ chart.margin }}" y1="{{ chart.height - chart.margin }}"
      x2="{{ chart.width - chart.margin }}" y2="{{ chart.height - chart.margin }}"/>
{% for bar in bars %}
<rect class="bar" x="{{ bar.x }}" y="{{ bar.y }}" width="{{ bar.width }}" height="{{ bar.height }}"
      data-count="{{ bar.count }}"><title>{{ bar.label }}: {{ bar.count }}</title></rect>
{% if bar.count %}<text x="{{ bar.label_x }}" y="{{ bar.y - 3 }}" text-anchor="middle">{{ bar.count }}</text>{% endif %}
<text x="{{ bar.label_x }}" y="{{ chart.height - chart.margin + 14 }}" text-anchor="middle">{{ bar.label }}</text>
{% endfor %}
</svg>

<h2>Checks no submission passed</h2>
{% if stats.failing_everywhere %}
<div class="warn" id="failing-everywhere"><p>Failing for every graded submission: a broken check or lab is more
likely than a whole cohort missing it. Look at one report before trusting these grades.</p>
<ul>{% for rate in stats.failing_everywhere %}
<li><code>{{ rate.check_id | clean }}</code> — {{ rate.title | clean }}</li>{% endfor %}</ul></div>
{% else %}<p id="failing-everywhere">None: every check was passed by at least one submission.</p>{% endif %}

<h2>Pass rate per check</h2>
<table id="rates"><thead><tr><th>section</th><th>check</th><th>title</th><th class="num">passed</th><th>rate</th>
</tr></thead>
<tbody>{% for rate in stats.rates %}
<tr><td>{{ rate.section | clean }}</td><td><code>{{ rate.check_id | clean }}</code></td>
<td>{{ rate.title | clean }}</td>
<td class="num">{{ rate.passed }}/{{ rate.graded }}</td>
<td><span class="rate"><span style="width: {{ '%.0f' | format(rate.percent) }}%"></span></span>
{{ '%.0f' | format(rate.percent) }}%</td></tr>
{% endfor %}</tbody></table>

<h2>Slowest phases</h2>
<table id="phases"><thead><tr><th>phase</th><th class="num">mean</th><th class="num">longest</th>
<th class="num">runs</th></tr></thead>
<tbody>{% for phase in stats.slowest %}
<tr><td>{{ phase.phase | clean }}</td><td class="num">{{ '%.1f' | format(phase.mean_s) }} s</td>
<td class="num">{{ '%.1f' | format(phase.max_s) }} s</td><td class="num">{{ phase.runs }}</td></tr>
{% endfor %}</tbody></table>

<h2>Submissions</h2>
<table id="submissions"><thead><tr><th>candidate</th><th>state</th><th class="num">score</th><th class="num">%</th>
<th>passed</th><th>report</th></tr></thead>
<tbody>{% for row in rows %}
<tr><td>{{ row.candidate | clean }}</td><td>{{ row.state }}{% if row.error %}<br>
<span class="error">{{ row.error | clean | truncate(300) }}</span>{% endif %}</td>
<td class="num">{{ row.score }}</td><td class="num">{{ row.percent }}</td><td>{{ row.passed }}</td>
<td>{% if row.link %}<a href="{{ row.link }}">report</a>{% endif %}</td></tr>
{% endfor %}</tbody></table>
</body>
</html>
"""
