package report

import (
	"html/template"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/portolan/portolan/probe"
)

// ProbeHTML writes a probe report as one self-contained HTML page (inline
// CSS, no script, nothing fetched), to attach to a change ticket.
func ProbeHTML(w io.Writer, r *probe.Report) error {
	return probeTmpl().Execute(w, struct {
		*probe.Report
		Verdict string
		Title   string
	}{r, Verdict(r), "portolan probe " + strings.Join(r.Services, " ")})
}

// probeTmpl is the page's template, parsed on first use (not at init, which
// every command of the CLI would pay).
var probeTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("probe").Funcs(template.FuncMap{
		"ms":     func(m probe.Millis) string { return time.Duration(m).Round(time.Millisecond).String() },
		"time":   func(t time.Time) string { return t.Format(time.RFC3339) },
		"word":   probeStatusWord,
		"join":   strings.Join,
		"has":    func(r probe.Result) bool { return hasDetail(r) },
		"status": func(s probe.Status) string { return string(s) },
	}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#1d1d1f;max-width:90em}
h1{font-size:1.5em;margin:0 0 .3em}
.meta{color:#555;margin:0 0 1em}
.meta span{margin-right:1.5em}
.verdict{padding:.7em 1em;border-radius:6px;font-weight:600;margin:1em 0}
.verdict.ok{background:#e3f5e6;border:1px solid #5cb85c}
.verdict.bad{background:#fbe4e4;border:1px solid #d9534f}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.35em .6em;border-bottom:1px solid #e3e3e3}
th{background:#f5f5f7;font-weight:600}
td.t{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;word-break:break-all}
.pill{display:inline-block;min-width:3.5em;text-align:center;border-radius:4px;padding:0 .4em;font-weight:600;font-size:.85em}
.pill.ok{background:#e3f5e6;color:#2d6a33}.pill.warn{background:#fff4d6;color:#8a6100}
.pill.fail{background:#fbe4e4;color:#a12622}.pill.error{background:#f3e1f7;color:#6c2780}.pill.skip{background:#eee;color:#666}
details{margin-top:.3em}summary{cursor:pointer;color:#0a58ca}
ul{margin:.3em 0;padding-left:1.3em}
.sub{border-collapse:collapse;margin:.4em 0;width:auto}
.sub td,.sub th{border:1px solid #ddd;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f7f7f9;padding:.6em;overflow-x:auto;font-size:.85em}
.req{font-size:.8em;color:#a12622}
footer{margin-top:2em;color:#777;font-size:.85em}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta"><span>started {{time .Started}}</span><span>took {{ms .Elapsed}}</span>{{if .Reflector}}<span>reflector {{.Reflector}}</span>{{end}}{{if .Proxy}}<span>proxy {{.Proxy}}</span>{{end}}<span>checks {{join .Checks ", "}}</span></p>
<div class="verdict {{if .OK}}ok{{else}}bad{{end}}">{{.Verdict}}</div>
<table>
<thead><tr><th>Status</th><th>Check</th><th>Service</th><th>Flow</th><th>Target</th><th>Result</th></tr></thead>
<tbody>
{{range .Results}}<tr>
<td><span class="pill {{status .Status}}">{{word .Status}}</span>{{if .Required}}<br><span class="req">required</span>{{end}}</td>
<td>{{.Check}}</td>
<td>{{.Service}}</td>
<td>{{.Flow}}{{if .Constraint}}<br>[{{.Constraint}}]{{end}}</td>
<td class="t">{{.Target}}{{if .Via}}<br>via {{.Via}}{{end}}</td>
<td>{{.Summary}}{{if has .}}
<details><summary>details</summary>
{{if .Details}}<ul>{{range .Details}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with .Addrs}}<p>addresses: {{join . ", "}}</p>{{end}}
{{with .Ports}}<table class="sub"><tr><th>{{.Proto}} probed</th><td>{{.Probed}}</td></tr>
<tr><th>open</th><td>{{join .Open ", "}}</td></tr><tr><th>blocked</th><td>{{join .Blocked ", "}}</td></tr>
{{if .NotProbed}}<tr><th>not probed</th><td>{{join .NotProbed ", "}}</td></tr>{{end}}</table>{{end}}
{{with .TLS}}<table class="sub"><tr><th>version</th><td>{{.Version}} {{.Cipher}}{{if .MinVersion}} (minimum {{.MinVersion}}){{end}}</td></tr>
<tr><th>subject</th><td>{{.Subject}}</td></tr><tr><th>issuer</th><td>{{.Issuer}}</td></tr>
<tr><th>names</th><td>{{join .SANs ", "}}</td></tr><tr><th>sha256</th><td>{{.Fingerprint}}</td></tr>
<tr><th>verified</th><td>{{.Verified}} {{.VerifyError}}</td></tr>
{{if .Inspected}}<tr><th>inspected by</th><td>{{.InspectedBy}}</td></tr>{{end}}</table>{{end}}
{{with .Proxy}}<table class="sub"><tr><th>proxy</th><td>{{.Proxy}}</td></tr><tr><th>CONNECT</th><td>{{.Target}} → {{.Status}}</td></tr>
{{if .Offered}}<tr><th>offered</th><td>{{join .Offered ", "}}</td></tr>{{end}}{{if .Auth}}<tr><th>used</th><td>{{.Auth}}</td></tr>{{end}}</table>{{end}}
{{with .STUN}}<table class="sub"><tr><th>server</th><td>{{.Server}}</td></tr><tr><th>local</th><td>{{.Local}}</td></tr>
<tr><th>XOR-MAPPED</th><td>{{.Mapped}}</td></tr><tr><th>MAPPED</th><td>{{.PlainMapped}}</td></tr><tr><th>NAT</th><td>{{.NAT}}</td></tr></table>{{end}}
{{with .SIP}}{{if .Changes}}<table class="sub"><tr><th>rewritten</th><th>sent</th><th>arrived</th></tr>
{{range .Changes}}<tr><td>{{.Where}}</td><td>{{.Sent}}</td><td>{{.Received}}</td></tr>{{end}}</table>{{end}}
{{if .Sent}}<p>sent from {{.Local}}, arrived from {{.Source}}</p><pre>{{.Sent}}</pre>{{end}}{{if .Received}}<p>as it arrived:</p><pre>{{.Received}}</pre>{{end}}{{end}}
{{with .NAT}}<table class="sub"><tr><th>mode</th><td>{{.Mode}} on udp/{{.Port}}</td></tr>
{{range .Trials}}<tr><th>idle {{ms .Delay}}</th><td>{{.Outcome}}</td></tr>{{end}}</table>{{end}}
{{with .Fallback}}<table class="sub">{{range .Steps}}<tr><th>{{.Way}}</th><td>{{.State}}</td></tr>{{end}}</table>{{end}}
</details>{{end}}</td>
</tr>
{{end}}</tbody>
</table>
{{if .Warnings}}<h2>Resolution</h2><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
<footer>Generated by portolan probe. Statuses: ok works; warn works, not the preferred way; fail does not work or a middlebox breaks it; error could not be decided; skip not probed (the reason is given).</footer>
</body>
</html>
`))
})

func hasDetail(r probe.Result) bool {
	return len(r.Details) > 0 || r.Addrs != nil || r.Ports != nil || r.TLS != nil || r.Proxy != nil ||
		r.STUN != nil || r.SIP != nil || r.NAT != nil || r.Fallback != nil
}
