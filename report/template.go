package report

import (
	"html/template"
	"time"

	"github.com/churn-dev/churn/observers"
)

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  observers.FormatPercent,
	"secs": observers.FormatSeconds,
	"utc":  func(t time.Time) string { return t.UTC().Format("15:04:05") },
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
` + pageStyle + `</head>
<body>
<main>
<h1>{{.Title}}</h1>
<div class="meta">
<span>run <b>{{.R.RunID}}</b></span>
{{if .Start}}<span>started {{.Start}}</span><span>duration {{.Duration}}</span>{{end}}
<span>target {{.R.Target.Kind}}{{if .R.Target.KubernetesVersion}} (Kubernetes {{.R.Target.KubernetesVersion}}{{with index .R.Target.Binaries "kwok"}}, kwok {{.}}{{end}}){{end}}</span>
<span>mesh {{if .R.Mesh}}{{.R.Mesh}}{{else}}none{{end}}</span>
{{if .ExtraArgs}}<span>extra control-plane arguments <code>{{.ExtraArgs}}</code></span>{{end}}
{{if .Budget}}<span>control-plane CPU budget {{.Budget}}</span>{{end}}
{{if .R.Seed}}<span>seed {{.R.Seed}}</span>{{end}}
</div>

<div class="verdict {{.VerdictClass}}">{{.VerdictText}}</div>
{{if .Notes}}<ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .R.Errors}}<h2>Run errors</h2><ul>{{range .R.Errors}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Problems}}<p class="small">Could not read: {{range .Problems}}{{.}}; {{end}}</p>{{end}}

<h2>Service level objectives</h2>
{{if .SLOs}}
<table>
<tr><th>SLO</th><th class="num">threshold</th><th class="num">measured</th><th>status</th><th>worst</th><th>worst window</th></tr>
{{range .SLOs}}<tr{{if eq .Status "breached"}} class="breach"{{end}}>
<td><b>{{.Name}}</b><br><span class="small">{{.Description}}</span></td>
<td class="num">{{.Threshold}}</td><td class="num">{{.Measured}}</td>
<td><span class="badge {{.Status}}">{{.Status}}</span></td>
<td>{{.Worst}}{{if .Reason}}<br><span class="small">{{.Reason}}</span>{{end}}{{if .Breaches}}<ul class="breaches">{{range .Breaches}}<li>{{.}}</li>{{end}}</ul>{{end}}</td>
<td class="small">{{.Window}}</td>
</tr>{{end}}
</table>
<p class="small">Latency SLOs follow the Kubernetes scalability SLOs: p99 over 5-minute windows, judged on the churn phase (ClusterLoader2 skips a test's first 5 minutes instead). Windows are shown as time since the run started.</p>
{{else}}<p>No SLO was evaluated.</p>{{end}}

{{if .Validity}}<h2>Simulator: did kwok, churn and its agents keep up?</h2>
<table>
<tr><th>check</th><th class="num">threshold</th><th class="num">measured</th><th>status</th><th>detail</th></tr>
{{range .Validity}}<tr{{if eq .Status "behind"}} class="breach"{{end}}>
<td><b>{{.Name}}</b><br><span class="small">{{.Description}}</span></td>
<td class="num">{{.Threshold}}</td><td class="num">{{.Measured}}</td>
<td><span class="badge {{.Status}}">{{if eq .Status "behind"}}BEHIND{{else}}{{.Status}}{{end}}</span></td>
<td class="small">{{.Reason}}</td>
</tr>{{end}}
</table>
<p class="small">{{.ValidityLine}} A check that is BEHIND makes the run inconclusive (exit status 3), whatever the SLOs say.</p>
{{end}}
{{if .NodeIncidents}}<h3>Fake nodes that failed</h3>
<p class="small">{{.NodeIncidentsLine}}</p>
<table><tr><th>node</th><th>what</th><th>phase</th><th class="num">into it</th><th class="num">lasted</th><th>detail</th></tr>
{{range .NodeIncidents}}<tr{{if not .Excused}} class="breach"{{end}}><td>{{.Node}}</td><td>{{.What}}</td><td>{{.Phase}}</td><td class="num">{{.Into}}</td><td class="num">{{.Lasted}}</td><td class="small">{{.Detail}}</td></tr>{{end}}
</table>{{end}}

{{with .Install}}<h2>Install phase (mesh {{.Mesh}})</h2>
<p class="{{if .Settled}}settled{{else}}unsettled{{end}}">The mesh {{.Headline}}.</p>
{{if .Conditions}}<table><tr><th>condition</th><th class="num">have</th><th class="num">want</th><th>met</th></tr>
{{range .Conditions}}<tr{{if not .Met}} class="breach"{{end}}><td>{{.Name}}{{if .Detail}}<br><span class="small">{{.Detail}}</span>{{end}}</td><td class="num">{{.Have}}</td><td class="num">{{.Want}}</td><td>{{.When}}</td></tr>{{end}}
</table>{{end}}
{{with .Figures}}<p>{{.Duration}} of install: {{.Requests}} requests, {{.Requests429}} x 429, {{.APFRejected}} APF rejections, {{.Requests5xx}} x 5xx; {{.Outages}} outage(s), {{.Downtime}} down; kube-apiserver {{.APIServerCPU}}.</p>
{{if .PeakP99}}<table><tr><th>category</th><th class="num">peak p99</th><th>call</th></tr>
{{range .PeakP99}}<tr><td>{{.Category}}</td><td class="num">{{.P99}}</td><td>{{.Key}}</td></tr>{{end}}
</table>{{end}}{{end}}
<p class="small">` + notJudgedNote + ` Peak p99 is the worst 5-minute window inside the install phase, or the whole phase when it is shorter.</p>
{{end}}

<h2>Over time</h2>
<p class="small">Shaded: run phases; red: API server outages; purple dashes: control-plane process events.</p>
{{range .Charts}}<figure>{{.}}</figure>
{{end}}

<h2>Availability</h2>
{{if .R.Availability}}
<p>{{.R.Availability.Checks}} health checks, {{.R.Availability.FailedChecks}} failed; {{len .R.Availability.Outages}} outage(s), longest {{secs .R.Availability.LongestSeconds}}, total downtime {{secs .R.Availability.DowntimeSeconds}}.</p>
{{if .Outages}}<table><tr><th>from</th><th>to</th><th class="num">duration</th><th>failing</th><th>first error</th></tr>
{{range .Outages}}<tr><td>{{.From}}</td><td>{{.To}}{{if .Open}} (still down at the end){{end}}</td><td class="num">{{.Duration}}</td><td>{{.Failed}}</td><td class="small">{{.Error}}</td></tr>{{end}}
</table>{{end}}
{{if .Events}}<table><tr><th>at</th><th>process</th><th>event</th><th>detail</th></tr>
{{range .Events}}<tr><td>{{.At}}</td><td>{{.Name}}</td><td>{{.Kind}}</td><td class="small">{{.Detail}}</td></tr>{{end}}
</table>{{end}}
{{else}}<p>The availability observer did not run.</p>{{end}}
{{if .Disruptions}}<h3>Disruptions: faults, upgrades, rollouts</h3>
<p class="small">Times from the start of churn. A step stops something (stopped), starts its replacement (ready) and ends.</p>
<table><tr><th>plan / step</th><th>start</th><th>stopped</th><th>ready</th><th>end</th><th>took</th><th>outcome</th><th>what clients saw</th></tr>
{{range .Disruptions}}{{if .Plan}}<tr><td><b>{{.Kind}} {{.Spec}}</b></td><td>{{.Start}}</td><td></td><td></td><td>{{.End}}</td><td class="num">{{.Took}}</td><td>{{.Outcome}}</td><td class="small">{{.Impact}}</td></tr>
{{else}}<tr><td>&nbsp;&nbsp;{{.Step}}</td><td>{{.Start}}</td><td>{{.Stopped}}</td><td>{{.Ready}}</td><td>{{.End}}</td><td class="num">{{.Took}}</td><td>{{.Outcome}}</td><td class="small">{{.Impact}}</td></tr>
{{end}}{{end}}</table>{{end}}
` + apiServersHTML + `
<h2>What it cost: CPU and memory per process</h2>
{{if .BudgetLine}}<p>Control-plane CPU budget: {{.BudgetLine}}.</p>{{end}}
{{if .Processes}}
<table><tr><th>process</th><th>role</th><th class="num">CPU seconds</th><th class="num">avg cores</th><th class="num">peak cores</th><th class="num">peak RSS</th><th class="num">share of CPU</th><th>CPU priority</th></tr>
{{range .Processes}}<tr{{if .Tester}} class="tester"{{end}}><td>{{.Name}}</td><td>{{.Role}}</td><td class="num">{{.CPU}}</td><td class="num">{{.Avg}}</td><td class="num">{{.Peak}}</td><td class="num">{{.RSS}}</td><td class="num">{{.Share}}</td><td class="small">{{.Priority}}</td></tr>{{end}}
</table>
{{else}}<p>The processes observer did not run.</p>{{end}}

{{if .Churn}}<h2>Churn</h2>
<p>{{.Churn.Planned}} actions planned, {{.Churn.Succeeded}} succeeded, {{.Churn.Failed}} failed. Lag behind schedule p50 {{.Churn.LagP50}}, p99 {{.Churn.LagP99}}, max {{.Churn.LagMax}}; duration p50 {{.Churn.DurP50}}, p99 {{.Churn.DurP99}}.</p>
{{end}}
{{if .R.Setup}}<p class="small">Setup: {{.R.Setup.Nodes}} nodes, {{.R.Setup.Namespaces}} namespaces, {{.R.Setup.Deployments}} deployments, {{.R.Setup.TargetPods}} pods; {{with .R.Setup.WarmStart}}warm start from snapshot {{.Snapshot}} in {{printf "%.1f" .Seconds}} s (restore {{printf "%.1f" .RestoreSeconds}} s, control plane {{printf "%.1f" .ControlPlaneSeconds}} s, Ready {{printf "%.1f" .ReadySeconds}} s){{else}}ramp {{printf "%.0f" .R.Setup.RampSeconds}} s at {{printf "%.1f" .R.Setup.PodsPerSec}} pods/s{{end}}.</p>{{end}}

{{if .Keys}}<h2>Slowest API calls (worst 5-minute window in the {{.API.Judged.Label}})</h2>
<table><tr><th>call</th><th>category</th><th class="num">requests</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th>window</th></tr>
{{range .Keys}}<tr{{if .Breach}} class="breach"{{end}}><td>{{.Key}}</td><td>{{.Category}}</td><td class="num">{{.Count}}</td><td class="num">{{.P50}}</td><td class="num">{{.P90}}</td><td class="num">{{.P99}}</td><td class="small">{{.Window}}</td></tr>{{end}}
</table>
<p class="small">{{.API.Scrapes}} scrapes of /metrics ({{.API.FailedScrapes}} failed{{if .API.Restarts}}, {{.API.Restarts}} API server restart(s){{end}}); in the {{.API.Judged.Label}}: {{printf "%.0f" .API.Requests}} requests, {{printf "%.0f" .API.Requests429}} x 429, {{printf "%.0f" .API.Requests5xx}} x 5xx, {{printf "%.0f" .API.APFRejected}} APF rejections; peak {{printf "%.0f" .API.PeakWatches}} open watches.</p>
{{end}}

{{if .Probes}}<h2>churn's probes ({{.R.RunID}})</h2>
<table><tr><th>probe</th><th>category</th><th class="num">calls</th><th>errors</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th><th class="num">worst 5-min p99</th></tr>
{{range .Probes}}<tr><td>{{.Probe}}</td><td>{{.Category}}</td><td class="num">{{.Calls}}</td><td>{{.Errors}}</td><td class="num">{{.P50}}</td><td class="num">{{.P99}}</td><td class="num">{{.Max}}</td><td class="num">{{.Worst}}</td></tr>{{end}}
</table>{{end}}

{{if or .Watch .Pods}}<h2>Watch propagation and pod start-up</h2><ul>
{{with .Watch}}<li>Watch propagation: {{.Writes}} writes, {{.Received}} seen on the watch, {{.Lost}} lost, {{.WatchRestarts}} watch restarts; delay p50 {{secs .Delay.P50}}, p99 {{secs .Delay.P99}}, max {{secs .Delay.Max}} (write start to event: p99 {{secs .FromSend.P99}}).</li>{{end}}
{{with .Pods}}<li>Pod start-up in the {{.Judged.Label}}: {{.Churn.Observed.Count}} pods, p50 {{secs .Churn.Observed.P50}}, p99 {{secs .Churn.Observed.P99}}, max {{secs .Churn.Observed.Max}}; all pods: {{.All.Observed.Count}}, p99 {{secs .All.Observed.P99}}. {{.StillPending}} never became Ready. <span class="small">{{.TimestampsNote}}.</span></li>{{end}}
</ul>{{end}}

{{with .R.MeshStats}}<h2>Mesh: {{.Name}}</h2>
<p class="small">Agents rolled out in {{secs .RolloutSeconds}}.{{range .Notes}} {{.}}.{{end}}</p>{{end}}
{{with .Shards}}<p class="small">{{.}}</p>{{end}}
{{with .Real}}<p class="small">{{index . 0}}</p><ul class="small">{{range slice . 1}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with .Mesh}}<table><tr><th>component</th><th class="num">replicas</th><th class="num">events</th><th class="num">received</th><th class="num">lists</th><th class="num">re-lists</th><th class="num">watch restarts</th><th class="num">429s</th><th class="num">errors</th><th class="num">lag p50</th><th class="num">lag p99</th><th>writes</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td class="num">{{.Replicas}}</td><td class="num">{{.Events}}</td><td class="num">{{.Bytes}}</td><td class="num">{{.Lists}}</td><td class="num">{{.Relists}}</td><td class="num">{{.Restarts}}</td><td class="num">{{.Throttled}}</td><td class="num">{{.Errors}}</td><td class="num">{{.LagP50}}</td><td class="num">{{.LagP99}}</td><td>{{.Writes}}</td></tr>{{end}}
</table>{{end}}

<p class="small">churn {{.Version}} · report generated {{.Generated}} · self-contained: no scripts, no network.</p>
</main>
</body>
</html>
`

// pageStyle is shared by the run report and the side-by-side report.
const pageStyle = `<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
main { max-width: 1040px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 12px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; }
.meta span { margin-right: 18px; }
.verdict { padding: 14px 18px; border-radius: 6px; font-size: 17px; font-weight: 600; margin: 14px 0; color: #fff; }
.verdict.pass { background: #1a7f37; }
.verdict.fail { background: #c62828; }
.verdict.inconclusive { background: #8a5a00; }
ul.notes { margin: -6px 0 12px 18px; padding: 0; color: #7a5a00; }
p.unsettled { color: #8a5a00; font-weight: 600; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 6px 0 10px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.passed { background: #dcf3e3; color: #1a7f37; }
.badge.breached { background: #fde0e0; color: #c62828; }
.badge.skipped { background: #fff3cd; color: #7a5a00; }
.badge.disabled { background: #eee; color: #666; }
.badge.ok { background: #dcf3e3; color: #1a7f37; }
.badge.behind { background: #fde0e0; color: #c62828; }
tr.breach td { background: #fff5f5; }
tr.tester td { font-weight: 600; }
.small { font-size: 12px; color: #666; }
figure { margin: 10px 0 18px; background: #fff; border: 1px solid #e4e4e4; border-radius: 6px; padding: 6px; }
svg.chart { width: 100%; height: auto; display: block; font-family: system-ui, sans-serif; }
svg.chart .title { font-size: 14px; font-weight: 600; fill: #222; }
svg.chart .plot { fill: #fff; stroke: #ccc; }
svg.chart .grid { stroke: #eee; }
svg.chart .axis { stroke: #888; }
svg.chart .tick, svg.chart .legend text { font-size: 11px; fill: #444; }
svg.chart .axislabel { font-size: 11px; fill: #666; }
svg.chart .bandlabel { font-size: 10px; fill: #888; }
svg.chart .series { fill-opacity: 0.9; }
svg.chart polyline.series { fill: none; stroke-width: 1.6; }
svg.chart .threshold { stroke: #c62828; stroke-width: 1.2; stroke-dasharray: 4 3; }
svg.chart .thresholdlabel { font-size: 11px; fill: #c62828; }
svg.chart .marker { stroke: #6a1b9a; stroke-width: 1.2; stroke-dasharray: 2 2; }
svg.chart .nodata { font-size: 13px; fill: #999; }
ul.breaches { margin: 2px 0 0 16px; padding: 0; font-size: 12px; color: #a31515; }
</style>
`
